import { randomUUID } from 'node:crypto';
import type { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { compareFencingTokens, isFencingToken, type LockStore, UnlockStatus } from '../../src/spi/lock.store';

/** One lock store under test, as a backend's spec builds it. */
export interface LockConformanceSubject {
  readonly store: LockStore;
  /** The VirtualClock the store was initialised with (required when `supportsVirtualClock`). */
  readonly clock?: VirtualClock;
  /** A second instance on the same backend (another "process"), when the backend is shared. */
  readonly peer?: LockStore;
  /** Removes what the suite left on a shared server for these (full) resource ids: lock keys, fence counters. */
  forget?(resourceIds: readonly string[]): Promise<void>;
  cleanup(): Promise<void>;
}

export interface LockConformanceSetup {
  create(): Promise<LockConformanceSubject>;
  /** Expiry follows the injected clock (memory): advance it instead of waiting. */
  readonly supportsVirtualClock: boolean;
}

/**
 * The behaviour every lock store shares (Dapr's lock semantics plus fencing tokens), as one jest
 * suite. Resource ids are random per run, so backends sharing a server do not interfere.
 */
export function describeLockConformance(label: string, setup: LockConformanceSetup): void {
  describe(`${label}: lock store conformance`, () => {
    const run = randomUUID().slice(0, 8);
    let subject: LockConformanceSubject | undefined;
    let store: LockStore;
    const used = new Set<string>();
    const res = (name: string): string => {
      const id = `lock||conf||${run}-${name}`;
      used.add(id);
      return id;
    };
    const passExpiry = async (seconds: number): Promise<void> => {
      if (setup.supportsVirtualClock) await subject?.clock?.advance(seconds * 1000 + 1);
      else await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 600));
    };

    beforeAll(async () => {
      subject = await setup.create();
      store = subject.store;
      if (setup.supportsVirtualClock && !subject.clock) throw new Error(`${label}: supportsVirtualClock needs clock`);
    });

    afterAll(async () => {
      try {
        await subject?.forget?.([...used]);
      } finally {
        await subject?.cleanup();
      }
    });

    it('grants a free lock with a fencing token', async () => {
      const got = await store.tryLock({ resourceId: res('grant'), lockOwner: 'a', expiryInSeconds: 30 });
      expect(got.success).toBe(true);
      expect(isFencingToken(got.fencingToken ?? '')).toBe(true);
    });

    it('refuses a held lock to another owner and to the same owner, without a token', async () => {
      const r = res('contention');
      expect((await store.tryLock({ resourceId: r, lockOwner: 'a', expiryInSeconds: 30 })).success).toBe(true);
      expect(await store.tryLock({ resourceId: r, lockOwner: 'b', expiryInSeconds: 30 })).toEqual({ success: false });
      expect(await store.tryLock({ resourceId: r, lockOwner: 'a', expiryInSeconds: 30 })).toEqual({ success: false });
    });

    it('20 concurrent owners: exactly one gets the lock', async () => {
      const r = res('race');
      const stores = [store, subject?.peer ?? store];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (stores[i % 2] ?? store).tryLock({ resourceId: r, lockOwner: `o${i}`, expiryInSeconds: 30 })),
      );
      expect(results.filter((x) => x.success)).toHaveLength(1);
    });

    it('unlock statuses: 0 by the owner, 2 by another owner, 1 when not held or never locked', async () => {
      const r = res('unlock');
      await store.tryLock({ resourceId: r, lockOwner: 'a', expiryInSeconds: 30 });
      expect(await store.unlock({ resourceId: r, lockOwner: 'b' })).toEqual({ status: UnlockStatus.LockBelongsToOthers });
      expect(await store.unlock({ resourceId: r, lockOwner: 'a' })).toEqual({ status: UnlockStatus.Success });
      expect(await store.unlock({ resourceId: r, lockOwner: 'a' })).toEqual({ status: UnlockStatus.LockDoesNotExist });
      expect(await store.unlock({ resourceId: res('never'), lockOwner: 'a' })).toEqual({ status: UnlockStatus.LockDoesNotExist });
      expect((await store.tryLock({ resourceId: r, lockOwner: 'b', expiryInSeconds: 30 })).success).toBe(true);
    });

    it('a lock expires: another owner gets it, and the first owner unlocking gets 2, then 1 once it is gone', async () => {
      const r = res('expiry');
      const first = await store.tryLock({ resourceId: r, lockOwner: 'a', expiryInSeconds: 1 });
      expect(first.success).toBe(true);
      await passExpiry(1);
      expect(await store.unlock({ resourceId: r, lockOwner: 'a' })).toEqual({ status: UnlockStatus.LockDoesNotExist });
      const second = await store.tryLock({ resourceId: r, lockOwner: 'b', expiryInSeconds: 30 });
      expect(second.success).toBe(true);
      expect(compareFencingTokens(second.fencingToken ?? '0', first.fencingToken ?? '0')).toBeGreaterThan(0);
      expect(await store.unlock({ resourceId: r, lockOwner: 'a' })).toEqual({ status: UnlockStatus.LockBelongsToOthers });
    });

    it('fencing tokens increase with every grant of a resource (after unlock and after expiry), across instances', async () => {
      const r = res('tokens');
      const tokens: string[] = [];
      for (let i = 0; i < 5; i++) {
        const s = i % 2 === 0 ? store : (subject?.peer ?? store);
        const got = await s.tryLock({ resourceId: r, lockOwner: `o${i}`, expiryInSeconds: i === 4 ? 1 : 30 });
        expect(got.success).toBe(true);
        tokens.push(got.fencingToken ?? '');
        if (i < 4) expect((await s.unlock({ resourceId: r, lockOwner: `o${i}` })).status).toBe(UnlockStatus.Success);
      }
      await passExpiry(1);
      const last = await store.tryLock({ resourceId: r, lockOwner: 'late', expiryInSeconds: 30 });
      tokens.push(last.fencingToken ?? '');
      for (let i = 1; i < tokens.length; i++) expect(compareFencingTokens(tokens[i] ?? '', tokens[i - 1] ?? '')).toBeGreaterThan(0);
      // A refused try does not use up a token of the holder's.
      expect(await store.tryLock({ resourceId: r, lockOwner: 'x', expiryInSeconds: 30 })).toEqual({ success: false });
    });

    it('resources are independent', async () => {
      expect((await store.tryLock({ resourceId: res('ind-1'), lockOwner: 'a', expiryInSeconds: 30 })).success).toBe(true);
      expect((await store.tryLock({ resourceId: res('ind-2'), lockOwner: 'b', expiryInSeconds: 30 })).success).toBe(true);
    });
  });
}
