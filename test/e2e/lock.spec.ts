import { daprHttpClient } from '../support/dapr-client';
import { Controller, Injectable, Param, Post } from '@nestjs/common';
import { LockStatus } from '@dapr/dapr/types/lock/UnlockResponse';
import type { InlineComponent } from '../../src/config/component.loader';
import { WithLock } from '../../src/decorators';
import { LockHeldError } from '../../src/errors/lock.errors';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { type LockStore, UnlockStatus } from '../../src/spi/lock.store';
import { inspect, startApp, type TestApp } from '../support/app';

/** The distributed lock API over HTTP (daprd's paths, bodies and codes), SidekickClient.lock, @WithLock and the official client. */

const memoryLock = (name: string, metadata: Record<string, string> = {}): InlineComponent => ({
  metadata: { name },
  spec: { type: 'lock.in-memory', version: 'v1', metadata: Object.entries(metadata).map(([n, value]) => ({ name: n, value })) },
});

@Injectable()
class ReportJob {
  readonly log: string[] = [];
  private release?: () => void;
  readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  @WithLock('lockstore', (id: string) => `report-${id}`, { expiryInSeconds: 30 })
  async run(id: string, wait: boolean): Promise<string> {
    this.log.push(`start ${id}`);
    if (wait) await this.gate;
    this.log.push(`end ${id}`);
    return `done ${id}`;
  }

  @WithLock('lockstore', 'queued', { expiryInSeconds: 30, waitMs: 10_000, retryIntervalMs: 5 })
  async queued(n: number): Promise<number> {
    this.log.push(`q${n}+`);
    await new Promise((r) => setTimeout(r, 20));
    this.log.push(`q${n}-`);
    return n;
  }

  open(): void {
    this.release?.();
  }
}

@Controller('jobs')
class JobController {
  runs = 0;

  // @WithLock above Nest's @Post: the route metadata stays on the guarded method.
  @WithLock('lockstore', (id: string) => `job-${id}`, { expiryInSeconds: 30 })
  @Post(':id')
  async run(@Param('id') id: string): Promise<{ id: string; runs: number }> {
    this.runs += 1;
    return { id, runs: this.runs };
  }
}

async function post(t: TestApp, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.apiUrl}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the distributed lock API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(
      { appId: 'lockapp', components: [memoryLock('lockstore'), memoryLock('named', { keyPrefix: 'name' })] },
      { providers: [ReportJob], controllers: [JobController] },
    );
  });

  afterAll(() => t?.close());

  it('lock → {success:true, fencingToken}; held → {success:false}; unlock statuses 2, 0, 1', async () => {
    const body = { resourceId: 'r1', lockOwner: 'alice', expiryInSeconds: 30 };
    expect(await post(t, '/v1.0-alpha1/lock/lockstore', body)).toEqual({ status: 200, body: { success: true, fencingToken: '1' } });
    expect(await post(t, '/v1.0-alpha1/lock/lockstore', { ...body, lockOwner: 'bob' })).toEqual({ status: 200, body: { success: false } });
    expect(await post(t, '/v1.0-alpha1/unlock/lockstore', { resourceId: 'r1', lockOwner: 'bob' })).toEqual({ status: 200, body: { status: 2 } });
    expect(await post(t, '/v1.0-alpha1/unlock/lockstore', { resourceId: 'r1', lockOwner: 'alice' })).toEqual({ status: 200, body: { status: 0 } });
    expect(await post(t, '/v1.0-alpha1/unlock/lockstore', { resourceId: 'r1', lockOwner: 'alice' })).toEqual({ status: 200, body: { status: 1 } });
    expect(await post(t, '/v1.0-alpha1/lock/lockstore', { ...body, lockOwner: 'bob' })).toEqual({ status: 200, body: { success: true, fencingToken: '2' } });
  });

  it('/v1.0/metadata lists the lock stores', async () => {
    const meta = (await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json()) as { components: unknown[] };
    expect(meta.components).toEqual(expect.arrayContaining([{ name: 'lockstore', type: 'lock.in-memory', version: 'v1', capabilities: [] }]));
  });

  it("keys follow daprd's layout: lock||<appId>||<id>, and lock||<store>||<id> with keyPrefix name", async () => {
    await post(t, '/v1.0-alpha1/lock/lockstore', { resourceId: 'layout', lockOwner: 'o', expiryInSeconds: 30 });
    await post(t, '/v1.0-alpha1/lock/named', { resourceId: 'layout', lockOwner: 'o', expiryInSeconds: 30 });
    const raw = (name: string): LockStore => inspect(t).component<LockStore>(name) as LockStore;
    expect(await raw('lockstore').unlock({ resourceId: 'lock||lockapp||layout', lockOwner: 'o' })).toEqual({ status: UnlockStatus.Success });
    expect(await raw('named').unlock({ resourceId: 'lock||named||layout', lockOwner: 'o' })).toEqual({ status: UnlockStatus.Success });
  });

  it.each([
    ['expiryInSeconds 0', { resourceId: 'r', lockOwner: 'o', expiryInSeconds: 0 }, 'ExpiryInSeconds is not positive in lock store lockstore'],
    ['no expiryInSeconds', { resourceId: 'r', lockOwner: 'o' }, 'ExpiryInSeconds is not positive in lock store lockstore'],
    ['an empty resourceId', { resourceId: '', lockOwner: 'o', expiryInSeconds: 5 }, 'ResourceId is empty in lock store lockstore'],
    ['no lockOwner', { resourceId: 'r', expiryInSeconds: 5 }, 'LockOwner is empty in lock store lockstore'],
    ['a fractional expiry', { resourceId: 'r', lockOwner: 'o', expiryInSeconds: 1.5 }, 'expiryInSeconds must be a whole number of seconds'],
    ['a body that is not JSON', '{"resourceId":', 'failed deserializing HTTP body of try lock'],
    ['an expiry beyond int32', { resourceId: 'r', lockOwner: 'o', expiryInSeconds: 2 ** 31 }, 'expiryInSeconds 2147483648 is larger than 2147483647'],
  ])('lock with %s: 400 ERR_MALFORMED_REQUEST', async (_what, body, message) => {
    const res = await post(t, '/v1.0-alpha1/lock/lockstore', body);
    expect(res.status).toBe(400);
    expect(res.body['errorCode']).toBe('ERR_MALFORMED_REQUEST');
    expect(res.body['message']).toContain(message);
  });

  it('an unknown store is 400 ERR_LOCK_STORE_NOT_FOUND naming the configured ones; a resourceId with || is 500 ERR_TRY_LOCK / ERR_UNLOCK', async () => {
    const missing = await post(t, '/v1.0-alpha1/lock/nope', { resourceId: 'r', lockOwner: 'o', expiryInSeconds: 5 });
    expect(missing).toEqual({
      status: 400,
      body: { errorCode: 'ERR_LOCK_STORE_NOT_FOUND', message: 'lock store nope not found (configured lock stores: lockstore, named)' },
    });
    const unlockMissing = await post(t, '/v1.0-alpha1/unlock/nope', { resourceId: 'r', lockOwner: 'o' });
    expect(unlockMissing.status).toBe(400);
    expect(unlockMissing.body['errorCode']).toBe('ERR_LOCK_STORE_NOT_FOUND');
    const bad = await post(t, '/v1.0-alpha1/lock/lockstore', { resourceId: 'a||b', lockOwner: 'o', expiryInSeconds: 5 });
    expect(bad).toEqual({
      status: 500,
      body: { errorCode: 'ERR_TRY_LOCK', message: "failed to try acquiring lock: input key/keyPrefix 'a||b' can't contain '||'" },
    });
    expect((await post(t, '/v1.0-alpha1/unlock/lockstore', { resourceId: 'a||b', lockOwner: 'o' })).body['errorCode']).toBe('ERR_UNLOCK');
  });

  it('SidekickClient.lock: tryLock / unlock; leaving the store out with two lock stores is an error listing them', async () => {
    const sidekick = t.app.get(SidekickClient);
    const got = await sidekick.lock.tryLock({ store: 'lockstore', resourceId: 'client', lockOwner: 'c', expiryInSeconds: 5 });
    expect(got).toEqual({ success: true, fencingToken: '1' });
    expect(await sidekick.lock.unlock({ store: 'lockstore', resourceId: 'client', lockOwner: 'c' })).toEqual({ status: UnlockStatus.Success });
    // Two lock stores here: leaving the store out is an error that lists them.
    await expect(sidekick.lock.tryLock({ resourceId: 'client', lockOwner: 'c', expiryInSeconds: 5 })).rejects.toMatchObject({
      code: 'ERR_LOCK_STORE_NOT_FOUND',
      message: "name the lock store ({ store: '...' }): 2 lock stores are loaded (lockstore, named)",
    });
  });

  it('@WithLock: a second call while the first holds the lock fails fast with LockHeldError; after it, the lock is free', async () => {
    const job = t.app.get(ReportJob);
    const first = job.run('a', true);
    await new Promise((r) => setTimeout(r, 20));
    await expect(job.run('a', false)).rejects.toBeInstanceOf(LockHeldError);
    await expect(job.run('other', false)).resolves.toBe('done other'); // another resource
    job.open();
    await expect(first).resolves.toBe('done a');
    await expect(job.run('a', false)).resolves.toBe('done a');
    expect(await post(t, '/v1.0-alpha1/unlock/lockstore', { resourceId: 'report-a', lockOwner: 'x' })).toEqual({ status: 200, body: { status: 1 } });
  });

  it('@WithLock on a controller route (above @Post): the route still answers, under the lock', async () => {
    const res = await fetch(`${t.appUrl}/jobs/7`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: '7', runs: 1 });
    expect(await post(t, '/v1.0-alpha1/lock/lockstore', { resourceId: 'job-7', lockOwner: 'x', expiryInSeconds: 5 })).toMatchObject({
      body: { success: true },
    });
  });

  it('@WithLock with waitMs: concurrent calls run one at a time', async () => {
    const job = t.app.get(ReportJob);
    job.log.length = 0;
    await expect(Promise.all([1, 2, 3].map((n) => job.queued(n)))).resolves.toEqual([1, 2, 3]);
    for (let i = 0; i < job.log.length; i += 2) expect(job.log[i + 1]).toBe(job.log[i]?.replace('+', '-'));
  });

  it('the official @dapr/dapr client: lock, unlock and its statuses', async () => {
    const client = daprHttpClient(t.apiUrl);
    expect(await client.lock.lock('lockstore', 'sdk', 'owner-1', 10)).toEqual({ success: true });
    expect(await client.lock.lock('lockstore', 'sdk', 'owner-2', 10)).toEqual({ success: false });
    expect(await client.lock.unlock('lockstore', 'sdk', 'owner-2')).toEqual({ status: LockStatus.LockBelongsToOthers });
    expect(await client.lock.unlock('lockstore', 'sdk', 'owner-1')).toEqual({ status: LockStatus.Success });
    expect(await client.lock.unlock('lockstore', 'sdk', 'owner-1')).toEqual({ status: LockStatus.LockDoesNotExist });
    await client.stop();
  });
});

describe('the lock API without lock stores, and @WithLock naming an unknown store', () => {
  it('500 ERR_LOCK_STORE_NOT_CONFIGURED', async () => {
    const t = await startApp({ appId: 'nolocks' });
    try {
      const res = await post(t, '/v1.0-alpha1/lock/lockstore', { resourceId: 'r', lockOwner: 'o', expiryInSeconds: 5 });
      expect(res.status).toBe(500);
      expect(res.body['errorCode']).toBe('ERR_LOCK_STORE_NOT_CONFIGURED');
    } finally {
      await t.close();
    }
  });

  it('start-up fails naming the method and the configured lock stores', async () => {
    @Injectable()
    class Bad {
      @WithLock('missing', 'x')
      async go(): Promise<void> {}
    }
    await expect(startApp({ appId: 'badlock', components: [memoryLock('lockstore')] }, { providers: [Bad] })).rejects.toThrow(
      '@WithLock("missing") on Bad.go names no loaded lock store; configured lock stores: lockstore',
    );
  });
});
