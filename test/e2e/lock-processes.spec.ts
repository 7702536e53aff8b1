import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { type InlineComponent } from '../../src/config/component.loader';
import { FencingTokenStaleError } from '../../src/errors/lock.errors';
import { inspect, startApp, tempDir, type TestApp } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startProcess } from '../support/processes';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';
import type { StateStore } from '../../src/spi';

/**
 * The lock across processes, as apps use it: each process is a Nest application context with
 * SidekickModule (the compiled package), sharing a Redis or PostgreSQL lock store and state store.
 */

const DIST = join(ROOT, 'dist/src/index.js');
const run = randomUUID().slice(0, 8);

interface Backend {
  readonly name: string;
  require(): Promise<void>;
  components(): InlineComponent[];
  /** The stored bytes of a state key (full key). */
  stored(key: string): Promise<string | undefined>;
  cleanup(): Promise<void>;
}

const stateTable = `sidekick_lockspec_state_${run}`;
const lockTable = `sidekick_lockspec_locks_${run}`;

function comp(name: string, type: string, metadata: Record<string, string>): InlineComponent {
  return { metadata: { name }, spec: { type, version: 'v1', metadata: Object.entries(metadata).map(([n, value]) => ({ name: n, value })) } };
}

const BACKENDS: Backend[] = [
  {
    name: 'redis',
    require: requireRedis,
    components: () => [comp('lockstore', 'lock.redis', { redisHost: redisHostPort() }), comp('statestore', 'state.redis', { redisHost: redisHostPort() })],
    async stored(key) {
      const redis = rawRedis();
      await redis.connect();
      try {
        return (await redis.hget(key, 'data')) ?? undefined;
      } finally {
        await redis.quit();
      }
    },
    async cleanup() {
      const redis = rawRedis();
      await redis.connect();
      try {
        const keys = [...(await redis.keys(`*${run}*`))];
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        await redis.quit();
      }
    },
  },
  {
    name: 'postgresql',
    require: requirePostgres,
    components: () => [
      comp('lockstore', 'lock.postgresql', { connectionString: postgresUrl(), tableName: lockTable }),
      comp('statestore', 'state.postgresql', { connectionString: postgresUrl(), tableName: stateTable }),
    ],
    async stored(key) {
      const sql = new Client({ connectionString: postgresUrl() });
      await sql.connect();
      try {
        const rows = await sql.query<{ value: Buffer }>(`SELECT value FROM ${stateTable} WHERE key = $1`, [key]);
        return rows.rows[0]?.value.toString('utf8');
      } finally {
        await sql.end();
      }
    },
    async cleanup() {
      const sql = new Client({ connectionString: postgresUrl() });
      await sql.connect();
      try {
        await sql.query(`DROP TABLE IF EXISTS ${stateTable}, ${lockTable}`);
      } finally {
        await sql.end();
      }
    },
  },
];

/** A Sidekick app context running `body` (JS, with `sidekick` = the SidekickClient, `env`, `print`), then closing. */
function appScript(components: InlineComponent[], apiPort: number, body: string): string {
  return `
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const sk = require(${JSON.stringify(DIST)});
const print = (line) => process.stdout.write(line + '\\n');
const silent = { debug() {}, info() {}, warn() {}, error(o, m) { process.stderr.write(String(m) + '\\n'); }, child() { return this; } };
class AppModule {}
Module({ imports: [sk.SidekickModule.forRoot({ appId: 'lockspec', components: ${JSON.stringify(components)}, resourcesPath: process.env.DATA_DIR, dataDir: process.env.DATA_DIR,
  httpApi: { port: ${apiPort} }, nameResolution: { localRegistry: false }, logger: silent })] })(AppModule);
(async () => {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  await app.init();
  const sidekick = app.get(sk.SidekickClient);
  ${body}
  await app.close();
})().catch((err) => { console.error(err); process.exit(1); });
`;
}

function startApp2(name: string, script: string, dataDir: string): Proc {
  return startProcess(name, process.execPath, ['-e', script], { env: { DATA_DIR: dataDir } });
}

describe.each(BACKENDS)('the lock across processes on $name', (backend) => {
  beforeAll(async () => {
    await backend.require();
    await ensureBuilt([DIST]);
  }, 180_000);

  afterAll(() => backend.cleanup());

  it('20 concurrent workers in two processes increment a shared counter under the lock: the exact count', async () => {
    const key = `lockspec-${run}-counter`;
    const perWorker = 10;
    const body = `
  const state = sidekick.state('statestore');
  const worker = async () => {
    for (let i = 0; i < ${perWorker}; i++) {
      await sidekick.lock.withLock('counter-${run}', async (grant) => {
        const n = (await state.get('${key}')) ?? 0;
        await new Promise((r) => setImmediate(r));
        await state.save('${key}', n + 1, { metadata: { fencingToken: grant.fencingToken } });
      }, { expiryInSeconds: 30, waitMs: 120000, retryIntervalMs: 5 });
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  print('DONE');`;
    const procs = await Promise.all(
      [0, 1].map(async (i) => startApp2(`counter-${i}`, appScript(backend.components(), await freePort(), body), tempDir('sidekick-lockspec-'))),
    );
    try {
      for (const p of procs) await p.waitFor('DONE', () => p.out.includes('DONE'), 150_000);
      for (const p of procs) expect((await p.waitExit(20_000)).code).toBe(0);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
    }
    expect(await backend.stored(`lockspec||${key}`)).toBe(String(2 * 10 * perWorker));
  }, 200_000);

  it('a holder paused (SIGSTOP) past its expiry cannot overwrite: the next holder wrote with a newer fencing token', async () => {
    const key = `lockspec-${run}-fenced`;
    const resource = `fenced-${run}`;
    const dir = tempDir('sidekick-lockspec-');
    const go = join(dir, 'go');
    const apiPort = await freePort();
    // The holder: takes the lock for 1 s, reads, then (paused by the test) writes with its token, by HTTP and by the client.
    const body = `
  const got = await sidekick.lock.tryLock({ resourceId: '${resource}', lockOwner: 'paused-holder', expiryInSeconds: 1 });
  print('GRANTED ' + got.fencingToken);
  const fs = require('node:fs');
  while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 20));
  const res = await fetch('http://127.0.0.1:${apiPort}/v1.0/state/statestore', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ key: '${key}', value: { by: 'paused' }, metadata: { fencingToken: got.fencingToken, fencingResource: '${resource}' } }]) });
  print('HTTP ' + res.status + ' ' + (await res.text()));
  try {
    await sidekick.state('statestore').save('${key}', { by: 'paused-client' }, { metadata: { fencingToken: got.fencingToken, fencingResource: '${resource}' } });
    print('CLIENT saved');
  } catch (err) {
    print('CLIENT ' + err.name + ' ' + err.code);
  }`;
    const holder = startApp2('holder', appScript(backend.components(), apiPort, body), dir);
    let t: TestApp | undefined;
    try {
      await holder.waitFor('the grant', () => /GRANTED \d+/.test(holder.out), 60_000);
      const first = holder.matches(/GRANTED (\d+)/gm)[0] ?? '';
      holder.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 2000)); // past the 1 s lease
      // The next holder (this process, through its HTTP API) takes the lock and writes.
      t = await startApp({ appId: 'lockspec', components: backend.components() });
      const lock = await fetch(`${t.apiUrl}/v1.0-alpha1/lock/lockstore`, {
        method: 'POST',
        body: JSON.stringify({ resourceId: resource, lockOwner: 'next-holder', expiryInSeconds: 30 }),
      });
      const granted = (await lock.json()) as { success: boolean; fencingToken: string };
      expect(granted.success).toBe(true);
      expect(BigInt(granted.fencingToken)).toBeGreaterThan(BigInt(first));
      const write = await fetch(`${t.apiUrl}/v1.0/state/statestore`, {
        method: 'POST',
        body: JSON.stringify([{ key, value: { by: 'next' }, metadata: { fencingToken: granted.fencingToken, fencingResource: resource } }]),
      });
      expect(write.status).toBe(204);
      writeFileSync(go, '');
      holder.child.kill('SIGCONT');
      await holder.waitFor('the writes', () => holder.out.includes('CLIENT '), 60_000);
      const http = /HTTP (\d+) (.*)$/m.exec(holder.out);
      expect(http?.[1]).toBe('409');
      expect(JSON.parse(http?.[2] ?? '{}')).toEqual({
        errorCode: 'ERR_STATE_FENCING_TOKEN_STALE',
        message: expect.stringContaining(`fencing token ${first} for resource "${resource}" is older than token ${granted.fencingToken}`),
      });
      expect(holder.out).toContain(`CLIENT ${FencingTokenStaleError.name} ERR_STATE_FENCING_TOKEN_STALE`);
      expect(await backend.stored(`lockspec||${key}`)).toBe('{"by":"next"}');
      // The raw component agrees (same bytes through the app's own store).
      expect((await inspect(t).component<StateStore>('statestore')?.get(`lockspec||${key}`))?.data.toString()).toBe('{"by":"next"}');
    } finally {
      if (holder.running) holder.child.kill('SIGCONT');
      await holder.stop();
      await t?.close();
    }
  }, 120_000);
});
