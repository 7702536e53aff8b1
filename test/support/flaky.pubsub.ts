import { MemoryPubSub } from '../../libs/memory';
import { BackendError } from '../../src/errors';
import type { ComponentFactory, PublishRequest } from '../../src/spi';

/** An in-memory pub/sub whose `publish` fails the next `failures` times (a flaky target for resiliency tests). */
export class FlakyPubSub extends MemoryPubSub {
  static failures = 0;
  static calls = 0;

  override async publish(request: PublishRequest): Promise<void> {
    FlakyPubSub.calls += 1;
    if (FlakyPubSub.failures > 0) {
      FlakyPubSub.failures -= 1;
      throw new BackendError('flakypubsub', 'the flaky pub/sub failed on purpose');
    }
    return super.publish(request);
  }
}

export const flakyPubSubFactory: ComponentFactory<FlakyPubSub> = {
  type: 'pubsub.test-flaky',
  kind: 'pubsub',
  versions: ['v1'],
  create: () => new FlakyPubSub(),
};
