import { randomUUID } from 'node:crypto';
import type { ConfigurationStore, ConfigurationUpdate } from '../../src/spi/configuration.store';
import { Collector, eventually } from '../../test/support/collector';

/** Writes items the way the backend's own users do (redis-cli SET, SQL INSERT/UPDATE/DELETE, ...). */
export interface ConfigurationWriter {
  set(key: string, value: string, version: string, metadata?: Readonly<Record<string, string>>): Promise<void>;
  delete(key: string): Promise<void>;
}

/** One store under test, as a backend's spec builds it. */
export interface ConfigurationConformanceSubject {
  readonly store: ConfigurationStore;
  readonly writer: ConfigurationWriter;
  /** Closes the store and anything else the spec opened. */
  cleanup(): Promise<void>;
}

export interface ConfigurationConformanceSetup {
  create(): Promise<ConfigurationConformanceSubject>;
  /** Metadata every subscribe passes (`pgNotifyChannel` for PostgreSQL). */
  readonly subscribeMetadata?: Readonly<Record<string, string>>;
  /** Whether items carry metadata (Redis strings cannot). */
  readonly supportsItemMetadata: boolean;
  /**
   * Whether every write is delivered even when writes follow each other faster than the store
   * re-reads (Redis re-reads the key on each notification, so a burst may be delivered as its later
   * states only; they still arrive in order and end with the last one).
   */
  readonly deliversEveryWrite: boolean;
}

/** A flattened change: `key=value@version`, or `key deleted`. */
function describe_(update: ConfigurationUpdate): string[] {
  return Object.entries(update.items).map(([key, item]) => (update.deleted.includes(key) ? `${key} deleted` : `${key}=${item.value}@${item.version}`));
}

/**
 * The behaviour every configuration store must share, as one jest suite. Each test uses its own keys
 * under a random run id; every key written is deleted in `afterAll`.
 */
export function describeConfigurationConformance(label: string, setup: ConfigurationConformanceSetup): void {
  describe(`${label}: configuration store conformance`, () => {
    const run = randomUUID().slice(0, 8);
    const used = new Set<string>();
    let subject: ConfigurationConformanceSubject | undefined;
    let store: ConfigurationStore;
    const md = setup.subscribeMetadata ?? {};
    const key = (name: string): string => {
      const full = `cfg_${run}_${name}`;
      used.add(full);
      return full;
    };
    const watch = async (keys: readonly string[]): Promise<{ seen: Collector<string>; stop: () => Promise<void> }> => {
      const seen = new Collector<string>();
      const stop = await store.subscribe(
        keys,
        (u) => {
          for (const line of describe_(u)) seen.push(line);
        },
        md,
      );
      return { seen, stop };
    };
    const quiet = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

    beforeAll(async () => {
      subject = await setup.create();
      store = subject.store;
    });

    afterAll(async () => {
      if (!subject) return;
      for (const k of used) await subject.writer.delete(k);
      await subject.cleanup();
    });

    it('get returns the items asked for, with value and version; missing keys are absent', async () => {
      const a = key('get-a');
      const b = key('get-b');
      await subject?.writer.set(a, 'alpha', '1');
      await subject?.writer.set(b, 'beta', '7');
      const items = await store.get([a, b, key('get-missing')]);
      expect(Object.keys(items).sort()).toEqual([a, b].sort());
      expect(items[a]).toMatchObject({ value: 'alpha', version: '1' });
      expect(items[b]).toMatchObject({ value: 'beta', version: '7' });
      expect(await store.get([key('get-missing-only')])).toEqual({});
    });

    it('get with no keys returns every item (the written ones among them)', async () => {
      const a = key('all-a');
      const b = key('all-b');
      await subject?.writer.set(a, 'one', '1');
      await subject?.writer.set(b, 'two', '2');
      const items = await store.get([]);
      expect(items[a]).toMatchObject({ value: 'one', version: '1' });
      expect(items[b]).toMatchObject({ value: 'two', version: '2' });
    });

    it('an update replaces the value and version; unicode and separators in values survive', async () => {
      const a = key('ver');
      await subject?.writer.set(a, 'v1', '1');
      await subject?.writer.set(a, 'ünïcødé ✓ a|b', '2');
      expect((await store.get([a]))[a]).toMatchObject({ value: 'ünïcødé ✓ a|b', version: '2' });
    });

    if (setup.supportsItemMetadata) {
      it('items carry their metadata', async () => {
        const a = key('meta');
        await subject?.writer.set(a, 'm', '1', { owner: 'team-a', tier: 'gold' });
        expect((await store.get([a]))[a]).toEqual({ value: 'm', version: '1', metadata: { owner: 'team-a', tier: 'gold' } });
      });
    }

    it('a subscription sees a set, an update and a delete, in order', async () => {
      const a = key('sub');
      const { seen, stop } = await watch([a]);
      try {
        await subject?.writer.set(a, 'first', '1');
        await seen.waitFor(1);
        await subject?.writer.set(a, 'second', '2');
        await seen.waitFor(2);
        await subject?.writer.delete(a);
        await seen.waitFor(3);
        expect(seen.items).toEqual([`${a}=first@1`, `${a}=second@2`, `${a} deleted`]);
      } finally {
        await stop();
      }
    });

    it('a burst of writes is delivered in order and ends with the last state', async () => {
      const a = key('burst');
      const { seen, stop } = await watch([a]);
      try {
        const writes = ['1', '2', '3', '4', '5'];
        for (const v of writes) await subject?.writer.set(a, `v${v}`, v);
        await subject?.writer.delete(a);
        await eventually(() => seen.items.at(-1) === `${a} deleted`, 5000, 'the deletion to arrive last');
        const all = [...writes.map((v) => `${a}=v${v}@${v}`), `${a} deleted`];
        if (setup.deliversEveryWrite) expect(seen.items).toEqual(all);
        // Never out of order: each delivered state comes later in the written sequence than the one before.
        const positions = seen.items.map((line) => all.indexOf(line));
        expect(positions.every((p) => p >= 0)).toBe(true);
        expect([...positions].sort((x, y) => x - y)).toEqual(positions);
        expect(new Set(positions).size).toBe(positions.length);
      } finally {
        await stop();
      }
    });

    it('a subscription to some keys ignores other keys; one to every key sees them', async () => {
      const watched = key('watched');
      const other = key('other');
      const keyed = await watch([watched]);
      const every = await watch([]);
      try {
        await subject?.writer.set(other, 'x', '1');
        await subject?.writer.set(watched, 'y', '1');
        await keyed.seen.waitFor(1);
        await eventually(
          () => every.seen.items.includes(`${other}=x@1`) && every.seen.items.includes(`${watched}=y@1`),
          5000,
          'both keys on the every-key subscription',
        );
        await quiet(200);
        expect(keyed.seen.items).toEqual([`${watched}=y@1`]);
        const mine = every.seen.items.filter((line) => line.startsWith(`cfg_${run}_`) && (line.includes(other) || line.includes(watched)));
        expect(mine).toEqual([`${other}=x@1`, `${watched}=y@1`]);
      } finally {
        await keyed.stop();
        await every.stop();
      }
    });

    it('two subscriptions to one key both see its changes; unsubscribing one leaves the other', async () => {
      const a = key('two');
      const first = await watch([a]);
      const second = await watch([a]);
      try {
        await subject?.writer.set(a, 'both', '1');
        await first.seen.waitFor(1);
        await second.seen.waitFor(1);
        await first.stop();
        await subject?.writer.set(a, 'second-only', '2');
        await second.seen.waitFor(2);
        await quiet(200);
        expect(first.seen.items).toEqual([`${a}=both@1`]);
        expect(second.seen.items).toEqual([`${a}=both@1`, `${a}=second-only@2`]);
      } finally {
        await first.stop();
        await second.stop();
      }
    });

    it('after unsubscribe no change is delivered; unsubscribing twice is harmless', async () => {
      const a = key('unsub');
      const { seen, stop } = await watch([a]);
      await subject?.writer.set(a, 'before', '1');
      await seen.waitFor(1);
      await stop();
      await stop();
      await subject?.writer.set(a, 'after', '2');
      await subject?.writer.delete(a);
      await quiet(400);
      expect(seen.items).toEqual([`${a}=before@1`]);
    });

    it('a handler that throws does not end the subscription', async () => {
      const a = key('throws');
      const seen: string[] = [];
      const stop = await store.subscribe(
        [a],
        (u) => {
          seen.push(...describe_(u));
          if (seen.length === 1) throw new Error('handler failure (expected by the test)');
        },
        md,
      );
      try {
        await subject?.writer.set(a, 'one', '1');
        await eventually(() => seen.length === 1, 5000, 'the first change');
        await subject?.writer.set(a, 'two', '2');
        await eventually(() => seen.length === 2, 5000, 'the second change');
        expect(seen).toEqual([`${a}=one@1`, `${a}=two@2`]);
      } finally {
        await stop();
      }
    });
  });
}
