import Database from 'better-sqlite3';
import { join } from 'node:path';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { noopLogger } from '../../test/support/logger';
import { STRICT_STATE_RULES } from '../../src/spi/state.rules';
import { describeStateConformance } from '../conformance/state.conformance';
import { SqliteStateStore, sqliteStateStoreFactory } from './sqlite.state-store';
import { componentInit } from '../../src/spi/metadata-reader';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'sidekick-sqlite-'));

async function open(file: string, clock = new VirtualClock(), metadata: Record<string, string> = {}): Promise<SqliteStateStore> {
  const store = sqliteStateStoreFactory.create();
  await store.init(
    componentInit({
      name: 'sqlite',
      type: 'state.sqlite',
      appId: 'app',
      metadata: { connectionString: file, ...metadata },
      clock,
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

describeStateConformance('state.sqlite', {
  supportsVirtualClock: true,
  malformedETag: 'invalid', // etags are decimal versions; anything else is ETagInvalidError
  query: true,
  rules: STRICT_STATE_RULES, // daprd's state.sqlite (components-contrib state/sqlite/sqlite_dbaccess.go)
  async create() {
    const clock = new VirtualClock();
    const store = await open(join(tempDir(), 'state.db'), clock);
    return { store, clock, cleanup: () => store.close() };
  },
});

describe('state.sqlite specifics', () => {
  it('keeps data and etags across a restart, and never reuses an etag', async () => {
    const file = join(tempDir(), 'state.db');
    const first = await open(file);
    await first.set({ key: 'app||k', value: Buffer.from('"v1"') });
    const etag = (await first.get('app||k'))?.etag;
    await first.close();
    const second = await open(file);
    expect((await second.get('app||k'))?.data.toString()).toBe('"v1"');
    await second.set({ key: 'app||k', value: Buffer.from('"v2"'), etag });
    expect(Number((await second.get('app||k'))?.etag)).toBeGreaterThan(Number(etag));
    await second.close();
  });

  it('uses a custom tableName and rejects one that is not an identifier', async () => {
    const file = join(tempDir(), 'state.db');
    const store = await open(file, new VirtualClock(), { tableName: 'orders_state' });
    await store.set({ key: 'app||x', value: Buffer.from('1') });
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT key FROM orders_state').all()).toEqual([{ key: 'app||x' }]);
    db.close();
    await expect(open(file, new VirtualClock(), { tableName: 'x; DROP TABLE y' })).rejects.toThrow(/tableName "x; DROP TABLE y" is not a valid SQL identifier/);
  });

  // A bare number is seconds (components-contrib's decoder); "1h" is Dapr's documented form (read as NaN before).
  it.each([
    ['60', 61_000],
    ['1h', 3_600_000 + 1000],
  ])('sweeps expired rows on the cleanup interval %s, driven by the clock', async (cleanupInterval, advanceMs) => {
    const file = join(tempDir(), 'state.db');
    const clock = new VirtualClock();
    const store = await open(file, clock, { cleanupInterval });
    await store.set({ key: 'app||gone', value: Buffer.from('1'), ttlInSeconds: 30 });
    const count = (): number => {
      const db = new Database(file, { readonly: true });
      const n = (db.prepare('SELECT COUNT(*) AS n FROM state').get() as { n: number }).n;
      db.close();
      return n;
    };
    expect(count()).toBe(1);
    await clock.advance(advanceMs);
    expect(count()).toBe(0);
    await store.close();
  });

  it('accepts busyTimeout as a Go duration ("2s") and rejects one that is not a duration', async () => {
    const file = join(tempDir(), 'state.db');
    const store = await open(file, new VirtualClock(), { busyTimeout: '2s' });
    await store.set({ key: 'app||k', value: Buffer.from('1') });
    await store.close();
    await expect(open(file, new VirtualClock(), { busyTimeout: 'soon' })).rejects.toThrow(/spec\.metadata\.busyTimeout: "soon" is not a duration/);
    await expect(open(file, new VirtualClock(), { cleanupInterval: 'hourly' })).rejects.toThrow(/spec\.metadata\.cleanupInterval: "hourly" is not a duration/);
  });

  it('fails with the path when the database cannot be opened', async () => {
    // A regular file where the folder should be: the folder cannot be created.
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    await expect(open(join(file, 'state.db'))).rejects.toThrow(/sqlite database .*not-a-dir\/state\.db cannot be opened/);
  });
});
