import { ConfigurationSubscription } from '../../src/runtime/blocks/configuration/configuration.client';
import { asDaprItems } from '../../src/runtime/blocks/configuration/configuration.routes';
import { DELETED_ITEM, DeliveredItems, UpdateSequence, type ConfigurationUpdate } from '../../src/spi/configuration.store';

const item = (value: string, version: string): { value: string; version: string; metadata: Record<string, string> } => ({ value, version, metadata: {} });
const set = (key: string, value: string, version: string): ConfigurationUpdate => ({ items: { [key]: item(value, version) }, deleted: [] });
const del = (key: string): ConfigurationUpdate => ({ items: { [key]: DELETED_ITEM }, deleted: [key] });

describe('DeliveredItems', () => {
  it('drops a change that repeats what was delivered (a re-read that finds the same item)', () => {
    const d = new DeliveredItems();
    d.prime({ a: item('1', '1') });
    expect(d.changes(set('a', '1', '1'))).toBeUndefined();
    expect(d.changes(set('a', '2', '2'))).toEqual(set('a', '2', '2'));
    expect(d.changes(del('a'))).toEqual(del('a'));
    expect(d.changes(del('a'))).toBeUndefined();
    expect(d.changes(del('never-seen'))).toEqual(del('never-seen'));
  });

  it('catches up after a reconnect: changed, new and vanished keys; nothing when nothing changed', () => {
    const d = new DeliveredItems();
    d.prime({ a: item('1', '1'), b: item('x', '1') });
    expect(d.catchUp({ a: item('1', '1'), b: item('x', '1') }, ['a', 'b'])).toBeUndefined();
    expect(d.catchUp({ a: item('2', '2'), c: item('new', '1') }, ['a', 'b', 'c'])).toEqual({
      items: { a: item('2', '2'), c: item('new', '1'), b: DELETED_ITEM },
      deleted: ['b'],
    });
  });

  it('record remembers without filtering', () => {
    const d = new DeliveredItems();
    d.record(set('a', '1', '1'));
    expect(d.changes(set('a', '1', '1'))).toBeUndefined();
  });
});

describe('UpdateSequence', () => {
  it('delivers in push order, one at a time, even when the handler is slow; failures go to onError', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    let running = 0;
    const seq = new UpdateSequence(
      async (u) => {
        running++;
        expect(running).toBe(1);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(Object.values(u.items)[0]?.value ?? '');
        running--;
        if (seen.length === 2) throw new Error('boom');
      },
      (err) => errors.push(err),
    );
    seq.push(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return set('k', 'first', '1');
    });
    seq.push(() => set('k', 'second', '2'));
    seq.push(() => undefined);
    seq.push(() => set('k', 'third', '3'));
    await seq.idle();
    expect(seen).toEqual(['first', 'second', 'third']);
    expect(errors).toHaveLength(1);
  });

  it('delivers nothing queued once closed', async () => {
    const seen: string[] = [];
    const seq = new UpdateSequence(
      (u) => void seen.push(Object.keys(u.items)[0] ?? ''),
      () => undefined,
    );
    seq.push(() => set('a', '1', '1'));
    seq.close();
    seq.push(() => set('b', '1', '1'));
    await seq.idle();
    expect(seen).toEqual([]);
    expect(seq.isClosed).toBe(true);
  });
});

describe('asDaprItems', () => {
  it("writes Go's omitempty JSON: no empty value, version or metadata; a deleted key is {}", () => {
    expect(asDaprItems({ a: { value: 'on', version: '', metadata: {} }, b: DELETED_ITEM, c: { value: 'x', version: '2', metadata: { m: '1' } } })).toEqual({
      a: { value: 'on' },
      b: {},
      c: { value: 'x', version: '2', metadata: { m: '1' } },
    });
  });
});

describe('ConfigurationSubscription (the client iterator)', () => {
  it('buffers changes until read, hands them out in order, and ends a pending next() on unsubscribe', async () => {
    const sub = new ConfigurationSubscription();
    let stopped = 0;
    sub.attach('id-1', () => Promise.resolve(void stopped++));
    const change = (v: string) => ({ store: 's', id: 'id-1', items: { k: item(v, '1') }, deleted: [] });
    sub.push(change('a'));
    sub.push(change('b'));
    expect((await sub.next()).value?.items['k']?.value).toBe('a');
    expect((await sub.next()).value?.items['k']?.value).toBe('b');
    const pending = sub.next();
    await sub.unsubscribe();
    await sub.unsubscribe();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(stopped).toBe(1);
    sub.push(change('late'));
    expect((await sub.next()).done).toBe(true);
    expect(sub.id).toBe('id-1');
  });
});
