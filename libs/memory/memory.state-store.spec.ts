import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { noopLogger } from '../../test/support/logger';
import { STRICT_STATE_RULES } from '../../src/spi/state.rules';
import { describeStateConformance } from '../conformance/state.conformance';
import { MemoryStateStore, memoryStateStoreFactory } from './memory.state-store';
import { componentInit } from '../../src/spi/metadata-reader';

describeStateConformance('state.in-memory', {
  supportsVirtualClock: true,
  malformedETag: 'invalid', // etags are decimal versions; anything else is ETagInvalidError
  query: true,
  rules: STRICT_STATE_RULES, // daprd's state.in-memory (components-contrib state/in-memory/in_memory.go)
  async create() {
    const clock = new VirtualClock();
    const store = memoryStateStoreFactory.create();
    await store.init(
      componentInit({
        name: 'memory',
        type: 'state.in-memory',
        appId: 'app',
        metadata: {},
        clock,
        logger: noopLogger,
        source: '(test)',
      }),
    );
    return { store, clock, cleanup: () => store.close() };
  },
});

describe('memoryStateStoreFactory', () => {
  it('creates fresh MemoryStateStore instances of type state.in-memory', () => {
    expect(memoryStateStoreFactory.type).toBe('state.in-memory');
    const a = memoryStateStoreFactory.create();
    expect(a).toBeInstanceOf(MemoryStateStore);
    expect(memoryStateStoreFactory.create()).not.toBe(a);
  });
});
