import { Injectable } from '@nestjs/common';
import { AbstractActor, Actor } from '../../src';
import type { StateStore } from '../../src/spi';
import { inspect, startApp, type TestApp } from '../support/app';
import { eventually } from '../support/collector';

@Actor({ type: 'Wallet' })
class Wallet extends AbstractActor {
  async add(amount: number, note?: string): Promise<{ total: number; note: string | null }> {
    const total = ((await this.state.get<number>('total')) ?? 0) + amount;
    await this.state.set('total', total);
    return { total, note: note ?? null };
  }

  async total(): Promise<number> {
    return (await this.state.get<number>('total')) ?? 0;
  }

  async nothing(): Promise<void> {}

  async fail(): Promise<void> {
    throw new Error('wallet is frozen');
  }

  /** A timer callback (also callable). */
  async tick(data: { by: number }): Promise<void> {
    await this.state.set('ticks', ((await this.state.get<number>('ticks')) ?? 0) + data.by);
  }

  async _internal(): Promise<void> {}
}

@Injectable()
class Unrelated {}

const actorStore = {
  metadata: { name: 'actorstore' },
  spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] },
};

describe('the actors HTTP API (/v1.0/actors/...)', () => {
  let t: TestApp;
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${t.apiUrl}/v1.0/actors${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });

  beforeAll(async () => {
    t = await startApp({ appId: 'wallets', components: [actorStore] }, { providers: [Wallet, Unrelated] });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('calls a method with POST, PUT, GET and DELETE; a JSON array is spread into arguments, other JSON is one argument', async () => {
    let res = await api('/Wallet/w1/method/add', { method: 'POST', body: JSON.stringify([5, 'first']) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ total: 5, note: 'first' });
    res = await api('/Wallet/w1/method/add', { method: 'PUT', body: '3' });
    expect(await res.json()).toEqual({ total: 8, note: null });
    res = await api('/Wallet/w1/method/total', { method: 'GET' });
    expect(await res.json()).toBe(8);
    res = await api('/Wallet/w1/method/total', { method: 'DELETE' });
    expect(await res.json()).toBe(8);
    res = await api('/Wallet/w1/method/nothing', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it("answers daprd's errors: unknown type or method, a failing method, malformed JSON, bad names", async () => {
    let res = await api('/Nope/1/method/add', { method: 'POST', body: '[1]' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ errorCode: 'ERR_ACTOR_INVOKE_METHOD', message: expect.stringContaining('no actor type "Nope" is registered') });
    res = await api('/Wallet/1/method/steal', { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ errorCode: 'ERR_ACTOR_INVOKE_METHOD', message: expect.stringContaining('has no method "steal"') });
    for (const hidden of ['_internal', 'onActivate', 'receiveReminder', 'constructor']) {
      res = await api(`/Wallet/1/method/${hidden}`, { method: 'POST' });
      expect(res.status).toBe(500);
    }
    res = await api('/Wallet/1/method/fail', { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ errorCode: 'ERR_ACTOR_INVOKE_METHOD', message: 'error invoke actor method: Wallet/1.fail failed: wallet is frozen' });
    res = await api('/Wallet/1/method/add', { method: 'POST', body: '[1,' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST' });
    res = await api('/Wallet/..%2Fx/method/add', { method: 'POST', body: '[1]' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_BAD_REQUEST' });
  });

  it('state: a transaction of upserts and deletes, then GET of a key (204 when missing)', async () => {
    await api('/Wallet/w2/method/add', { method: 'POST', body: '[1]' }); // active
    let res = await api('/Wallet/w2/state', {
      method: 'POST',
      body: JSON.stringify([
        { operation: 'upsert', request: { key: 'profile', value: { owner: 'ann' } } },
        { operation: 'upsert', request: { key: 'total', value: 100 } },
        { operation: 'delete', request: { key: 'gone' } },
      ]),
    });
    expect(res.status).toBe(204);
    res = await api('/Wallet/w2/state/profile');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ owner: 'ann' });
    expect((await api('/Wallet/w2/state/missing')).status).toBe(204);
    // The active actor sees the write (its cache of that key was dropped).
    expect(await (await api('/Wallet/w2/method/total', { method: 'POST' })).json()).toBe(100);
    const raw = await inspect(t).component<StateStore>('actorstore')?.get('wallets||Wallet||w2||profile');
    expect(raw?.data.toString()).toBe('{"owner":"ann"}');
  });

  it('state: unknown type is ERR_ACTOR_INSTANCE_MISSING, a bad operation or body is a 400', async () => {
    let res = await api('/Nope/1/state', { method: 'POST', body: '[]' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_INSTANCE_MISSING' });
    res = await api('/Wallet/1/state', { method: 'PUT', body: JSON.stringify([{ operation: 'merge', request: { key: 'a' } }]) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_NOT_SUPPORTED_STATE_OPERATION' });
    res = await api('/Wallet/1/state', { method: 'PUT', body: '{"not":"an array"}' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST' });
  });

  it('refuses huge state with 413 and a Dapr-style body', async () => {
    const huge = 'x'.repeat(5 * 1024 * 1024);
    const res = await api('/Wallet/big/state', { method: 'POST', body: JSON.stringify([{ operation: 'upsert', request: { key: 'k', value: huge } }]) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_BODY_TOO_LARGE' });
  });

  it('reminders: create, get (ttl as the RFC 3339 expiry), conflict without overwrite, delete, 404 after', async () => {
    let res = await api('/Wallet/r1/reminders/pay', { method: 'POST', body: JSON.stringify({ dueTime: '1h', period: 'R5/PT1H', ttl: '24h', data: { n: 1 } }) });
    expect(res.status).toBe(204);
    res = await api('/Wallet/r1/reminders/pay');
    expect(res.status).toBe(200);
    const got = await res.json();
    expect(got).toEqual({
      actorID: 'r1',
      actorType: 'Wallet',
      dueTime: '1h',
      period: 'R5/PT1H',
      ttl: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { n: 1 },
    });
    res = await api('/Wallet/r1/reminders/pay', { method: 'POST', body: JSON.stringify({ dueTime: '1h', overwrite: false }) });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_REMINDER_ALREADY_EXISTS' });
    expect((await api('/Wallet/r1/reminders/pay', { method: 'DELETE' })).status).toBe(204);
    res = await api('/Wallet/r1/reminders/pay');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_REMINDER_NOT_FOUND' });
  });

  it("reminders: malformed durations and unknown types give daprd's errors", async () => {
    for (const body of [{ dueTime: 'soon' }, { period: 'every day' }, { period: 'R0/PT1S' }, { ttl: '2001-01-01T00:00:00Z' }, { period: 'P1X' }]) {
      const res = await api('/Wallet/r2/reminders/bad', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ errorCode: 'ERR_ACTOR_REMINDER_CREATE', message: expect.stringContaining(Object.keys(body)[0] as string) });
    }
    const res = await api('/Nope/1/reminders/x', { method: 'POST', body: '{}' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_REMINDER_NON_HOSTED' });
  });

  it('timers: create with a callback, it fires in a turn; delete answers 204 even when missing', async () => {
    let res = await api('/Wallet/t1/timers/tick', {
      method: 'POST',
      body: JSON.stringify({ dueTime: '0s', period: '50ms', callback: 'tick', data: { by: 2 } }),
    });
    expect(res.status).toBe(204);
    const ticks = async (): Promise<number> => Number((await (await api('/Wallet/t1/state/ticks')).text()) || '0');
    await eventually(async () => (await ticks()) >= 4, 5000, 'four timer firings');
    expect((await api('/Wallet/t1/timers/tick', { method: 'DELETE' })).status).toBe(204);
    expect((await api('/Wallet/t1/timers/never', { method: 'DELETE' })).status).toBe(204);
    res = await api('/Wallet/t1/timers/x', { method: 'POST', body: JSON.stringify({ dueTime: '1s', callback: 'noSuchMethod' }) });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_TIMER_CREATE' });
    res = await api('/Wallet/t1/timers/x', { method: 'POST', body: JSON.stringify({ dueTime: 'later', callback: 'tick' }) });
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_TIMER_CREATE', message: expect.stringContaining('dueTime "later" is not valid') });
  });
});
