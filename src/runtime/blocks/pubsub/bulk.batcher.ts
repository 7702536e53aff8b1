import type { BulkSubscribeOptions } from '../../../decorators/subscribe.decorator';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { RetryPolicy } from '../../resiliency/retry.policy';
import type { BulkResult, Outcome, RouteTarget, TopicEvent } from './pubsub.types';
import { outcomeOf } from './outcome';

interface Pending {
  readonly event: TopicEvent;
  readonly original: Buffer;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Bulk subscribe: gathers events until `maxMessagesCount` or `maxAwaitDurationMs`, hands the batch to
 * the handler, retries the events it marks RETRY (or all of them when it throws), then settles each
 * event on its own (ack, dead-letter, or back to the broker).
 */
export class BulkBatcher {
  private batch: Pending[] = [];
  private timer?: TimerHandle;
  private readonly max: number;
  private readonly waitMs: number;

  constructor(
    private readonly target: RouteTarget,
    options: BulkSubscribeOptions,
    private readonly clock: Clock,
    private readonly policy: RetryPolicy,
    private readonly settle: (original: Buffer, outcome: Outcome) => Promise<void>,
    private readonly log: SidekickLogger,
  ) {
    this.max = options.maxMessagesCount ?? 100;
    this.waitMs = options.maxAwaitDurationMs ?? 1000;
  }

  /** Resolves when this event has been settled (acknowledged). */
  add(event: TopicEvent, original: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ event, original, resolve, reject });
      if (this.batch.length >= this.max) this.flushNow();
      else this.timer ??= this.clock.setTimeout(() => this.flushNow(), this.waitMs);
    });
  }

  flushNow(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0) void this.run(batch);
  }

  private async run(batch: Pending[]): Promise<void> {
    let pending = batch;
    const nextDelay = this.policy.delays();
    for (let retry = 0; pending.length > 0; retry++) {
      const result: { statuses?: BulkResult } = {};
      const outcome = await outcomeOf(async () => {
        result.statuses = await this.target.deliverBulk?.(pending.map((p) => p.event));
      });
      const statuses = result.statuses ?? undefined;
      const failed: Pending[] = [];
      for (const p of pending) {
        const status = outcome.status === 'retry' ? 'RETRY' : (statuses?.[p.event.id] ?? 'SUCCESS');
        if (status === 'RETRY') failed.push(p);
        else this.finish(p, status === 'DROP' ? { status: 'drop', reason: 'dropped by the bulk handler' } : { status: 'success' });
      }
      if (failed.length === 0) return;
      const error = outcome.status === 'retry' ? outcome.error : new Error('bulk handler asked to retry');
      if (retry >= this.policy.maxRetries) {
        this.log.warn({ events: failed.length, err: error.message }, 'bulk handler failed; retries exhausted');
        for (const p of failed) this.finish(p, { status: 'retry', error, retryable: true });
        return;
      }
      pending = failed;
      await this.policy.sleep(nextDelay());
    }
  }

  private finish(p: Pending, outcome: Outcome): void {
    this.settle(p.original, outcome).then(p.resolve, p.reject);
  }
}
