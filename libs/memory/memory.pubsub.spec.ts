import { SystemClock } from '../../src/runtime/time/system.clock';
import { noopLogger } from '../../test/support/logger';
import { describePubSubConformance } from '../conformance/pubsub.conformance';
import { MemoryPubSub, memoryPubSubFactory } from './memory.pubsub';
import { componentInit } from '../../src/spi/metadata-reader';

async function openMemory(): Promise<MemoryPubSub> {
  const pubsub = memoryPubSubFactory.create();
  await pubsub.init(
    componentInit({
      name: 'pubsub',
      type: 'pubsub.in-memory',
      appId: 'app',
      metadata: { redeliverIntervalMs: '200' },
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return pubsub;
}

// Topics live in one MemoryPubSub: every "instance" of the suite is the same one (one process).
let shared: MemoryPubSub | undefined;

describePubSubConformance('pubsub.in-memory', {
  ordered: false,
  redeliveryAfterMs: 200,
  supportsConsumerDeath: false, // nothing outlives the process
  async create() {
    shared ??= await openMemory();
    return { pubsub: shared, cleanup: async () => undefined };
  },
});

afterAll(async () => {
  await shared?.close();
});

describe('pubsub.in-memory: lifecycle', () => {
  it('close() is safe to call twice and publish after close fails', async () => {
    const pubsub = await openMemory();
    await pubsub.close();
    await expect(pubsub.close()).resolves.toBeUndefined();
    await expect(pubsub.publish({ topic: 't', data: Buffer.from('x') })).rejects.toThrow(/closed/);
  });
});
