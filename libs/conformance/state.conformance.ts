import { randomBytes, randomUUID } from 'node:crypto';
import { ETagInvalidError, ETagMismatchError } from '../../src/errors/state.errors';
import type { VirtualClock } from '../../src/runtime/time/virtual.clock';
import type { StateWriteRules } from '../../src/spi/state.rules';
import { describeStateQueryCases } from './state-query.conformance';
import type { GetResponse, SetRequest, StateStore } from '../../src/spi/state.store';

/** One store under test, as a backend's spec builds it. */
export interface StateConformanceSubject {
  readonly store: StateStore;
  /** The VirtualClock the store was initialised with (required when `supportsVirtualClock`). */
  readonly clock?: VirtualClock;
  /** Closes the store and anything else the spec opened. */
  cleanup(): Promise<void>;
}

export interface StateConformanceSetup {
  create(): Promise<StateConformanceSubject>;
  /** TTLs follow the injected clock (memory, SQLite): advance it instead of waiting in real time. */
  readonly supportsVirtualClock: boolean;
  /** Whether get/bulkGet report `expiresAt` for items with a TTL. Default true. */
  readonly reportsExpiresAt?: boolean;
  /** What a malformed etag (`not-an-etag`) raises: `invalid` = ETagInvalidError, `mismatch` = ETagMismatchError. */
  readonly malformedETag: 'invalid' | 'mismatch';
  /** The write rules of daprd's component for this backend (src/spi/state.rules.ts). */
  readonly rules: StateWriteRules;
  /** Optional capability: Dapr's state query (`QUERY_API`), run by libs/conformance/state-query.conformance.ts. */
  readonly query?: boolean;
}

/**
 * The behaviour every state store must share, as one jest suite. Keys are full stored keys
 * (`app||...`), each test uses its own keys under a random run id, and every key written is deleted
 * in `afterAll`, so backends that share a server do not interfere.
 */
export function describeStateConformance(label: string, setup: StateConformanceSetup): void {
  describe(`${label}: state store conformance`, () => {
    const run = randomUUID().slice(0, 8);
    const used = new Set<string>();
    let subject: StateConformanceSubject | undefined;
    let store: StateStore;

    const key = (name: string): string => {
      const full = `app||${run}-${name}`;
      used.add(full);
      return full;
    };
    const text = (value: string): Buffer => Buffer.from(value, 'utf8');
    const mustGet = async (k: string): Promise<GetResponse> => {
      const got = await store.get(k);
      if (!got) throw new Error(`expected ${k} to exist`);
      return got;
    };
    const expectBytes = (got: GetResponse | undefined, value: Buffer): void => {
      expect(got).toBeDefined();
      expect(Buffer.isBuffer(got?.data)).toBe(true);
      expect(got?.data.length).toBe(value.length);
      expect(got?.data.equals(value)).toBe(true);
    };
    const malformed = (): typeof ETagInvalidError | typeof ETagMismatchError => (setup.malformedETag === 'invalid' ? ETagInvalidError : ETagMismatchError);
    const rules = setup.rules;
    /** Asserts a write the rules accept (`true`) resolves and one they refuse rejects with ETagMismatchError. */
    const expectWrite = async (write: Promise<void>, accepted: boolean): Promise<void> => {
      if (accepted) await expect(write).resolves.toBeUndefined();
      else await expect(write).rejects.toBeInstanceOf(ETagMismatchError);
    };

    // TTL: with a virtual clock, 10 s and advance 11 s; in real time, 1 s and wait 1.5 s.
    const ttlSeconds = setup.supportsVirtualClock ? 10 : 1;
    const now = (): number => subject?.clock?.now() ?? Date.now();
    const passTtl = async (): Promise<void> => {
      if (setup.supportsVirtualClock) await subject?.clock?.advance(ttlSeconds * 1000 + 1000);
      else await new Promise((resolve) => setTimeout(resolve, ttlSeconds * 1000 + 500));
    };

    beforeAll(async () => {
      subject = await setup.create();
      store = subject.store;
      if (setup.supportsVirtualClock && !subject.clock) throw new Error(`${label}: supportsVirtualClock needs clock`);
    });

    afterAll(async () => {
      if (!subject) return;
      try {
        for (const k of used) await store.delete({ key: k });
      } finally {
        await subject.cleanup();
      }
    });

    describe('round trips', () => {
      it.each([
        ['JSON bytes', text(JSON.stringify({ a: 1, s: 'é', nested: { list: [1, 2, 3] } }))],
        ['a plain string', text('hello world')],
        ['binary (all 256 byte values)', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
      ])('%s', async (name, value) => {
        const k = key(`rt-${name}`);
        await store.set({ key: k, value });
        const got = await store.get(k);
        expectBytes(got, value);
        expect(typeof got?.etag).toBe('string');
        expect(got?.etag).not.toBe('');
      });

      it('a string value is stored as its UTF-8 bytes, in a transaction too (also text that looks like an escape)', async () => {
        const value = '{"s":"é 日本 🚀","esc":"\\x41\\\\"}';
        const k1 = key('rt-string');
        const k2 = key('rt-string-tx');
        await store.set({ key: k1, value });
        await store.transact([{ operation: 'upsert', request: { key: k2, value } }]);
        expectBytes(await store.get(k1), Buffer.from(value, 'utf8'));
        expectBytes(await store.get(k2), Buffer.from(value, 'utf8'));
      });

      it('a missing key gives undefined', async () => {
        await expect(store.get(key('rt-missing'))).resolves.toBeUndefined();
      });

      it('a 1 MiB value', async () => {
        const k = key('rt-1mib');
        const value = randomBytes(1024 * 1024);
        await store.set({ key: k, value });
        expectBytes(await store.get(k), value);
        expectBytes((await store.bulkGet([k]))[0], value);
      });

      it('unicode keys and keys holding || are stored as given and kept apart', async () => {
        const keys = [key('clé-日本-🚀'), key('cle\u0301-日本-🚀'), key('a||b'), key('a'), key('a||b||c'), key('a|')];
        for (const [i, k] of keys.entries()) await store.set({ key: k, value: text(`v${i}:${k}`) });
        const got = await store.bulkGet(keys);
        for (const [i, k] of keys.entries()) {
          expect(got[i]?.data.toString('utf8')).toBe(`v${i}:${k}`);
          expect((await store.get(k))?.data.toString('utf8')).toBe(`v${i}:${k}`);
        }
        await store.delete({ key: keys[2] ?? '' });
        await expect(store.get(keys[2] ?? '')).resolves.toBeUndefined();
        expect((await store.get(keys[3] ?? ''))?.data.toString('utf8')).toBe(`v3:${keys[3]}`);
        expect((await store.get(keys[4] ?? ''))?.data.toString('utf8')).toBe(`v4:${keys[4]}`);
      });
    });

    describe('etags', () => {
      it('a write with the current etag succeeds and changes the etag', async () => {
        const k = key('etag-current');
        await store.set({ key: k, value: text('v1') });
        const first = await mustGet(k);
        await store.set({ key: k, value: text('v2'), etag: first.etag });
        const second = await mustGet(k);
        expect(second.data.toString()).toBe('v2');
        expect(second.etag).not.toBe(first.etag);
        await store.set({ key: k, value: text('v3'), etag: second.etag, options: { concurrency: 'first-write' } });
        expect((await mustGet(k)).data.toString()).toBe('v3');
      });

      it('a write with a stale etag throws ETagMismatchError and changes nothing', async () => {
        const k = key('etag-stale-set');
        await store.set({ key: k, value: text('v1') });
        const stale = (await mustGet(k)).etag;
        await store.set({ key: k, value: text('v2') });
        const current = await mustGet(k);
        await expect(store.set({ key: k, value: text('v3'), etag: stale })).rejects.toBeInstanceOf(ETagMismatchError);
        const after = await mustGet(k);
        expect(after.data.toString()).toBe('v2');
        expect(after.etag).toBe(current.etag);
      });

      it('a delete with a stale etag throws ETagMismatchError and the item remains', async () => {
        const k = key('etag-stale-delete');
        await store.set({ key: k, value: text('v1') });
        const stale = (await mustGet(k)).etag;
        await store.set({ key: k, value: text('v2') });
        await expect(store.delete({ key: k, etag: stale })).rejects.toBeInstanceOf(ETagMismatchError);
        expect((await mustGet(k)).data.toString()).toBe('v2');
        await store.delete({ key: k, etag: (await mustGet(k)).etag });
        await expect(store.get(k)).resolves.toBeUndefined();
      });

      it(`an etag on a missing key: a delete ${rules.deleteETagOnMissingKey === 'succeed' ? 'succeeds' : 'mismatches'}, a save ${rules.saveETagOnMissingKey === 'create' ? 'creates the key' : 'mismatches'} (in a transaction too)`, async () => {
        const [k, tx] = [key('etag-missing'), key('etag-missing-tx')];
        await store.set({ key: k, value: text('v1') });
        const old = (await mustGet(k)).etag;
        await store.delete({ key: k });
        await expectWrite(store.delete({ key: k, etag: old }), rules.deleteETagOnMissingKey === 'succeed');
        await expectWrite(store.transact([{ operation: 'delete', request: { key: k, etag: old } }]), rules.deleteETagOnMissingKey === 'succeed');
        const create = rules.saveETagOnMissingKey === 'create';
        await expectWrite(store.set({ key: k, value: text('v2'), etag: old }), create);
        await expectWrite(store.transact([{ operation: 'upsert', request: { key: tx, value: text('t'), etag: old } }]), create);
        const got = await store.bulkGet([k, tx]);
        expect(got.map((g) => g?.data.toString())).toEqual(create ? ['v2', 't'] : [undefined, undefined]);
        if (create) await store.set({ key: k, value: text('v3'), etag: got[0]?.etag }); // a new etag that works
      });

      it(`the etag "0" ${rules.zeroETagIsNone ? 'stands for no etag' : 'is a wrong etag'} (save, delete, transaction)`, async () => {
        const [k, d] = [key('etag-zero'), key('etag-zero-del')];
        await store.set({ key: k, value: text('v1') });
        await store.set({ key: d, value: text('d1') });
        await expectWrite(store.set({ key: k, value: text('v2'), etag: '0' }), rules.zeroETagIsNone);
        await expectWrite(store.transact([{ operation: 'upsert', request: { key: k, value: text('v3'), etag: '0' } }]), rules.zeroETagIsNone);
        expect((await mustGet(k)).data.toString()).toBe(rules.zeroETagIsNone ? 'v3' : 'v1');
        await expectWrite(store.delete({ key: d, etag: '0' }), rules.zeroETagIsNone);
        expect((await store.get(d))?.data.toString()).toBe(rules.zeroETagIsNone ? undefined : 'd1');
      });

      it(`last-write with a stale etag: a save ${rules.lastWriteIgnoresETag ? 'ignores the etag' : 'mismatches'}, a delete mismatches`, async () => {
        const k = key('lw-stale');
        await store.set({ key: k, value: text('v1') });
        const stale = (await mustGet(k)).etag;
        await store.set({ key: k, value: text('v2') });
        const lastWrite = { concurrency: 'last-write' } as const;
        await expectWrite(store.set({ key: k, value: text('v3'), etag: stale, options: lastWrite }), rules.lastWriteIgnoresETag);
        await expectWrite(
          store.transact([{ operation: 'upsert', request: { key: k, value: text('v4'), etag: stale, options: lastWrite } }]),
          rules.lastWriteIgnoresETag,
        );
        expect((await mustGet(k)).data.toString()).toBe(rules.lastWriteIgnoresETag ? 'v4' : 'v2');
        if (rules.lastWriteIgnoresETag) await store.set({ key: k, value: text('v5'), etag: 'not-an-etag', options: lastWrite });
        await expect(store.delete({ key: k, etag: stale, options: lastWrite })).rejects.toBeInstanceOf(ETagMismatchError);
        expect((await store.get(k))?.data.toString()).toBe(rules.lastWriteIgnoresETag ? 'v5' : 'v2');
      });

      it(`a malformed etag throws ${setup.malformedETag === 'invalid' ? 'ETagInvalidError' : 'ETagMismatchError'}`, async () => {
        const k = key('etag-malformed');
        await store.set({ key: k, value: text('v1') });
        const etag = 'not-an-etag';
        await expect(store.set({ key: k, value: text('v2'), etag })).rejects.toBeInstanceOf(malformed());
        await expect(store.delete({ key: k, etag })).rejects.toBeInstanceOf(malformed());
        await expect(store.transact([{ operation: 'upsert', request: { key: k, value: text('v3'), etag } }])).rejects.toBeInstanceOf(malformed());
        expect((await mustGet(k)).data.toString()).toBe('v1');
      });

      it(`first-write without an etag: ${rules.firstWriteWithoutETag === 'refuse' ? 'refuses an existing key' : 'overwrites a key not created by first-write'}; succeeds on a new key`, async () => {
        const fw = { concurrency: 'first-write' } as const;
        const [existing, fresh] = [key('fw-existing'), key('fw-new')];
        const overwrite = rules.firstWriteWithoutETag === 'overwrite-unless-marked';
        await store.set({ key: existing, value: text('v1') });
        await expectWrite(store.set({ key: existing, value: text('v2'), options: fw }), overwrite);
        expect((await mustGet(existing)).data.toString()).toBe(overwrite ? 'v2' : 'v1');
        // A key a first-write save created: under daprd's Redis rules it refuses every save without its etag.
        await store.set({ key: fresh, value: text('n1'), options: fw });
        expect((await mustGet(fresh)).data.toString()).toBe('n1');
        await expect(store.set({ key: fresh, value: text('n2'), options: fw })).rejects.toBeInstanceOf(ETagMismatchError);
        await expectWrite(store.set({ key: fresh, value: text('n3') }), !overwrite);
        await store.set({ key: fresh, value: text('n4'), etag: (await mustGet(fresh)).etag });
        expect((await mustGet(fresh)).data.toString()).toBe('n4');
      });

      it('last-write without an etag always succeeds', async () => {
        const k = key('lw');
        await store.set({ key: k, value: text('v1') });
        await store.set({ key: k, value: text('v2'), options: { concurrency: 'last-write' } });
        await store.set({ key: k, value: text('v3') });
        expect((await mustGet(k)).data.toString()).toBe('v3');
      });

      it('50 concurrent first-write increments with retry give exactly 50', async () => {
        const k = key('counter');
        let conflicts = 0;
        const increment = async (): Promise<void> => {
          for (let attempt = 0; attempt < 1000; attempt++) {
            const current = await store.get(k);
            const next = text(String(current ? Number(current.data.toString()) + 1 : 1));
            const request: SetRequest = current
              ? { key: k, value: next, etag: current.etag, options: { concurrency: 'first-write' } }
              : { key: k, value: next, options: { concurrency: 'first-write' } };
            try {
              await store.set(request);
              return;
            } catch (err) {
              if (!(err instanceof ETagMismatchError)) throw err;
              conflicts += 1;
            }
          }
          throw new Error('increment: too many conflicts');
        };
        await Promise.all(Array.from({ length: 50 }, increment));
        expect((await mustGet(k)).data.toString()).toBe('50');
        expect(conflicts).toBeGreaterThan(0); // the workers did race
      });
    });

    describe('TTL', () => {
      it('an item expires: never returned by get or bulkGet after expiry', async () => {
        const k = key('ttl-expires');
        const keep = key('ttl-keep');
        await store.set({ key: k, value: text('short'), ttlInSeconds: ttlSeconds });
        await store.set({ key: keep, value: text('kept') });
        const before = await mustGet(k);
        expect(before.data.toString()).toBe('short');
        if (setup.reportsExpiresAt ?? true) {
          expect(before.expiresAt).toBeDefined();
          expect(Math.abs((before.expiresAt ?? 0) - (now() + ttlSeconds * 1000))).toBeLessThanOrEqual(1500);
          expect((await store.bulkGet([k]))[0]?.expiresAt).toBe(before.expiresAt);
        }
        expect((await mustGet(keep)).expiresAt).toBeUndefined();
        await passTtl();
        await expect(store.get(k)).resolves.toBeUndefined();
        const bulk = await store.bulkGet([k, keep, k]);
        expect(bulk[0]).toBeUndefined();
        expect(bulk[1]?.data.toString()).toBe('kept');
        expect(bulk[2]).toBeUndefined();
        // An expired item counts as absent for first-write and for etag checks.
        await expectWrite(store.set({ key: k, value: text('v'), etag: before.etag }), rules.saveETagOnMissingKey === 'create');
        await store.delete({ key: k });
        await store.set({ key: k, value: text('again'), options: { concurrency: 'first-write' } });
        expect((await mustGet(k)).data.toString()).toBe('again');
      });

      it(`an item saved again without a TTL ${rules.saveWithoutTtl === 'keep' ? 'keeps' : 'loses'} its TTL (in a transaction too); -1 removes it`, async () => {
        const [k, tx, minusOne] = [key('ttl-resave'), key('ttl-resave-tx'), key('ttl-minus-one')];
        for (const item of [k, tx, minusOne]) await store.set({ key: item, value: text('v1'), ttlInSeconds: ttlSeconds });
        const expiresAt = (await mustGet(k)).expiresAt;
        await store.set({ key: k, value: text('v2') });
        await store.transact([{ operation: 'upsert', request: { key: tx, value: text('v2') } }]);
        await store.set({ key: minusOne, value: text('m2'), ttlInSeconds: -1 });
        const keep = rules.saveWithoutTtl === 'keep';
        expect((await mustGet(k)).expiresAt).toBe(keep ? expiresAt : undefined);
        expect((await mustGet(minusOne)).expiresAt).toBeUndefined();
        await passTtl();
        const got = await store.bulkGet([k, tx, minusOne]);
        expect(got.map((g) => g?.data.toString())).toEqual(keep ? [undefined, undefined, 'm2'] : ['v2', 'v2', 'm2']);
      });
    });

    describe('transactions', () => {
      it('applies upserts and deletes together', async () => {
        const [a, b, c, d] = [key('tx-a'), key('tx-b'), key('tx-c'), key('tx-d')];
        await store.set({ key: a, value: text('a1') });
        await store.set({ key: c, value: text('c1') });
        const cEtag = (await mustGet(c)).etag;
        await store.transact([
          { operation: 'delete', request: { key: a } },
          { operation: 'upsert', request: { key: b, value: text('b1'), options: { concurrency: 'first-write' } } },
          { operation: 'upsert', request: { key: c, value: text('c2'), etag: cEtag } },
          { operation: 'upsert', request: { key: d, value: text('d1') } },
          { operation: 'delete', request: { key: d } },
        ]);
        const got = await store.bulkGet([a, b, c, d]);
        expect(got[0]).toBeUndefined();
        expect(got[1]?.data.toString()).toBe('b1');
        expect(got[2]?.data.toString()).toBe('c2');
        expect(got[2]?.etag).not.toBe(cEtag);
        expect(got[3]).toBeUndefined();
        await expect(store.transact([])).resolves.toBeUndefined();
      });

      it('a stale etag in the last operation throws ETagMismatchError and changes nothing', async () => {
        const [del, upd, created, last] = [key('txf-del'), key('txf-upd'), key('txf-new'), key('txf-last')];
        for (const k of [del, upd, last]) await store.set({ key: k, value: text(`${k}:1`) });
        const staleLast = (await mustGet(last)).etag;
        await store.set({ key: last, value: text(`${last}:2`) });
        const before = await store.bulkGet([del, upd, created, last]);
        await expect(
          store.transact([
            { operation: 'delete', request: { key: del, etag: before[0]?.etag } },
            { operation: 'upsert', request: { key: upd, value: text('changed'), etag: before[1]?.etag } },
            { operation: 'upsert', request: { key: created, value: text('created') } },
            { operation: 'upsert', request: { key: last, value: text('changed'), etag: staleLast } },
          ]),
        ).rejects.toBeInstanceOf(ETagMismatchError);
        const after = await store.bulkGet([del, upd, created, last]);
        expect(after[2]).toBeUndefined();
        for (const i of [0, 1, 3]) {
          expect(after[i]?.data.toString()).toBe(before[i]?.data.toString());
          expect(after[i]?.etag).toBe(before[i]?.etag);
        }
        // A refused first-write in a transaction (the key was created by first-write) changes nothing either.
        await store.set({ key: created, value: text('fw'), options: { concurrency: 'first-write' } });
        await expect(
          store.transact([
            { operation: 'delete', request: { key: del } },
            { operation: 'upsert', request: { key: created, value: text('x'), options: { concurrency: 'first-write' } } },
          ]),
        ).rejects.toBeInstanceOf(ETagMismatchError);
        expect((await mustGet(del)).etag).toBe(before[0]?.etag);
        expect((await mustGet(created)).data.toString()).toBe('fw');
      });
    });

    describe('bulkGet', () => {
      it('keeps the order of the keys given, with undefined for missing keys and duplicates repeated', async () => {
        const [k1, k2, missing] = [key('bulk-1'), key('bulk-2'), key('bulk-missing')];
        await store.set({ key: k1, value: text('one') });
        await store.set({ key: k2, value: text('two') });
        const got = await store.bulkGet([k2, missing, k1, k2, missing]);
        expect(got).toHaveLength(5);
        expect(got.map((g) => g?.data.toString())).toEqual(['two', undefined, 'one', 'two', undefined]);
        expect(got[0]?.etag).toBe((await mustGet(k2)).etag);
        await expect(store.bulkGet([])).resolves.toEqual([]);
      });
    });

    if (setup.query) describeStateQueryCases(() => store);
    else it('does not advertise QUERY_API (query is an optional capability)', () => expect(store.features).not.toContain('QUERY_API'));

    describe('lifecycle', () => {
      it('close() is safe to call twice', async () => {
        const other = await setup.create();
        await other.store.close();
        await expect(other.store.close()).resolves.toBeUndefined();
        await other.cleanup();
      });
    });
  });
}
