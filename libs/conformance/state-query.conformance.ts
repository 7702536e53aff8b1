import { randomUUID } from 'node:crypto';
import { parseStateQuery } from '../../src/spi/state.query';
import type { StateStore } from '../../src/spi/state.store';

/**
 * State query (optional capability, `QUERY_API`): the semantics of src/spi/state.query.ts on every
 * store that advertises it. Items live under their own key prefix per run (`q<run>||`), so other
 * tests and other runs on a shared server never show up in the results.
 */
export function describeStateQueryCases(storeOf: () => StateStore): void {
  const run = randomUUID().slice(0, 8);
  const prefix = `q${run}||`;
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  const items: [string, Buffer][] = [
    ['k01', json({ name: 'alice', age: 30, city: 'Oslo', person: { org: 'Dev Ops' } })],
    ['k02', json({ name: 'bob', age: 25, city: 'Lima', person: { org: 'Finance' } })],
    ['k03', json({ name: 'carol', age: 35, city: 'Oslo', person: { org: 'Dev Ops' } })],
    ['k04', json({ name: 'dave', age: '35', city: 'Rome' })],
    ['k05', json({ name: 'erin', city: 'Oslo', active: true })],
    ['k06', Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
    ['k07', json('just a string')],
  ];
  const decoys = [`other${run}||k01`, `${prefix}sidekick-fence||k01`];
  const keys = async (query: unknown): Promise<{ keys: string[]; token?: string }> => {
    const store = storeOf();
    const found = await store.query?.({ query: parseStateQuery(query), keyPrefix: prefix });
    if (!found) throw new Error('store.query is missing');
    return { keys: found.results.map((r) => r.key.slice(prefix.length)), token: found.token };
  };

  describe('query', () => {
    beforeAll(async () => {
      const store = storeOf();
      for (const [k, v] of items) await store.set({ key: prefix + k, value: v });
      for (const k of decoys) await store.set({ key: k, value: json({ city: 'Oslo' }) });
    });

    afterAll(async () => {
      const store = storeOf();
      for (const k of [...items.map(([k]) => prefix + k), ...decoys]) await store.delete({ key: k });
    });

    it('advertises QUERY_API', () => {
      expect(storeOf().features).toContain('QUERY_API');
    });

    it('EQ on a field: only this prefix, no internal records, no values that are not JSON; full items with etags', async () => {
      expect(await keys({ filter: { EQ: { city: 'Oslo' } } })).toEqual({ keys: ['k01', 'k03', 'k05'] });
      const store = storeOf();
      const found = await store.query?.({ query: parseStateQuery({ filter: { EQ: { name: 'alice' } } }), keyPrefix: prefix });
      const got = await store.get(`${prefix}k01`);
      expect(found?.results).toEqual([{ key: `${prefix}k01`, data: items[0]?.[1], etag: got?.etag }]);
    });

    it('EQ compares the JSON type: 35 is not "35"', async () => {
      expect((await keys({ filter: { EQ: { age: 35 } } })).keys).toEqual(['k03']);
      expect((await keys({ filter: { EQ: { age: '35' } } })).keys).toEqual(['k04']);
      expect((await keys({ filter: { EQ: { active: true } } })).keys).toEqual(['k05']);
    });

    it('IN, nested paths, AND and OR', async () => {
      expect((await keys({ filter: { IN: { city: ['Lima', 'Rome'] } } })).keys).toEqual(['k02', 'k04']);
      expect((await keys({ filter: { EQ: { 'person.org': 'Dev Ops' } } })).keys).toEqual(['k01', 'k03']);
      const nested = { OR: [{ AND: [{ EQ: { 'person.org': 'Dev Ops' } }, { EQ: { age: 35 } }] }, { EQ: { name: 'bob' } }] };
      expect((await keys({ filter: nested })).keys).toEqual(['k02', 'k03']);
    });

    it('sorts numbers before strings, items missing the field last (by key), and DESC', async () => {
      expect((await keys({ sort: [{ key: 'age' }] })).keys).toEqual(['k02', 'k01', 'k03', 'k04', 'k05', 'k07']);
      expect((await keys({ sort: [{ key: 'age', order: 'DESC' }] })).keys).toEqual(['k04', 'k03', 'k01', 'k02', 'k05', 'k07']);
      expect((await keys({ filter: { EQ: { city: 'Oslo' } }, sort: [{ key: 'name', order: 'DESC' }] })).keys).toEqual(['k05', 'k03', 'k01']);
    });

    it('pages with a token until the last page, which has none', async () => {
      const first = await keys({ filter: { EQ: { city: 'Oslo' } }, sort: [{ key: 'name' }], page: { limit: 2 } });
      expect(first.keys).toEqual(['k01', 'k03']);
      expect(first.token).toEqual(expect.any(String));
      const second = await keys({ filter: { EQ: { city: 'Oslo' } }, sort: [{ key: 'name' }], page: { limit: 2, token: first.token } });
      expect(second).toEqual({ keys: ['k05'] });
    });

    it('no match: no results and no token', async () => {
      expect(await keys({ filter: { EQ: { city: 'Atlantis' } } })).toEqual({ keys: [] });
    });
  });
}
