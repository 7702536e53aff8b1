import { SystemClock } from '../../src/runtime/time/system.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import { noopLogger } from '../../test/support/logger';
import { describeConfigurationConformance } from '../conformance/configuration.conformance';
import { memoryConfigurationStoreFactory } from './memory.configuration-store';

describeConfigurationConformance('configuration.in-memory', {
  supportsItemMetadata: true,
  deliversEveryWrite: true,
  async create() {
    const store = memoryConfigurationStoreFactory.create();
    await store.init(
      componentInit({
        name: 'mem',
        type: 'configuration.in-memory',
        appId: 'app',
        metadata: {},
        clock: new SystemClock(),
        logger: noopLogger,
        source: '(test)',
      }),
    );
    return {
      store,
      writer: {
        set: (key, value, version, metadata) => Promise.resolve(void store.set(key, value, version, metadata)),
        delete: (key) => Promise.resolve(void store.delete(key)),
      },
      cleanup: () => store.close(),
    };
  },
});

describe('configuration.in-memory specifics', () => {
  it('numbers versions itself when a write gives none', () => {
    const store = memoryConfigurationStoreFactory.create();
    expect(store.set('k', 'a').version).toBe('1');
    expect(store.set('k', 'b').version).toBe('2');
    expect(store.set('k', 'c', 'v9').version).toBe('v9');
    expect(store.set('k', 'd').version).toBe('1');
    expect(store.delete('k')).toBe(true);
    expect(store.delete('k')).toBe(false);
  });
});
