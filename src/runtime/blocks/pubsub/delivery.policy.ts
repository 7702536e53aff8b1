import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import type { Clock } from '../../../spi/clock';
import type { RetryPolicyOptions } from './pubsub.types';

/**
 * The default retry policy of deliveries: exponential backoff from cockatiel, waited through the
 * injectable clock (so a virtual clock drives redelivery in tests).
 */
export class DeliveryPolicy {
  readonly maxRetries: number;
  private readonly backoff: ExponentialBackoff<unknown>;

  constructor(
    private readonly clock: Clock,
    options: RetryPolicyOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 3;
    this.backoff = new ExponentialBackoff({ initialDelay: options.initialDelayMs ?? 200, maxDelay: options.maxDelayMs ?? 5000 });
  }

  /** A fresh sequence of delays for one message. */
  delays(): () => number {
    let current: IBackoff<unknown> | undefined;
    return () => {
      current = current ? current.next(undefined) : this.backoff.next();
      return current.duration;
    };
  }

  sleep(ms: number): Promise<void> {
    return this.clock.sleep(ms);
  }
}
