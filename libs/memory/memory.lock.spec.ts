import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import { noopLogger } from '../../test/support/logger';
import { describeLockConformance } from '../conformance/lock.conformance';
import { memoryLockFactory } from './memory.lock';

describeLockConformance('lock.in-memory', {
  supportsVirtualClock: true,
  async create() {
    const clock = new VirtualClock();
    const store = memoryLockFactory.create();
    await store.init(componentInit({ name: 'lock', type: 'lock.in-memory', appId: 'app', metadata: {}, clock, logger: noopLogger, source: '(test)' }));
    return { store, clock, cleanup: () => store.close() };
  },
});
