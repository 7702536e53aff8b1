import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { StateService } from '../../src/runtime/blocks/state/state.service';
import { WorkflowMailbox } from '../../src/runtime/blocks/workflows/workflow.mailbox';
import { WorkflowStore } from '../../src/runtime/blocks/workflows/workflow.store';
import type { HistoryEvent, InstanceRecord } from '../../src/runtime/blocks/workflows/workflow.types';
import { SidekickRuntime } from '../../src/runtime/sidekick.runtime';
import { startApp, type TestApp, tempDir } from '../support/app';
import { Client } from 'pg';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';

/*
 * The fence on history appends, at the store level with real backends: process A drives an instance;
 * process B adopts A (A's tombstone written, A's index and inbox moved); from then on A's
 * appends are refused (ERR_STATE_FENCING_TOKEN_STALE) and nothing of them reaches the store, B's pass,
 * and events sent to A land in B's inbox. Both "processes" are WorkflowStores over one state store.
 */

const RUN = randomUUID().slice(0, 8);

function record(id: string, owner: string, chunks: number): InstanceRecord {
  return { instanceId: id, name: 'w', status: 'RUNNING', createdAt: 1, lastUpdatedAt: chunks, chunks, owner };
}

const started: HistoryEvent[] = [
  { type: 'OrchestratorStarted', at: 1 },
  { type: 'ExecutionStarted', at: 1, name: 'w' },
];
const step: HistoryEvent[] = [{ type: 'OrchestratorStarted', at: 2 }];

/** Reads one stored value (the app's key, before the prefix) as JSON, or undefined. */
type Peek = (key: string) => Promise<unknown>;

async function scenario(state: StateService, storeName: string, peek: Peek): Promise<void> {
  const a = new WorkflowStore(state, () => storeName);
  const b = new WorkflowStore(state, () => storeName);
  const mailbox = new WorkflowMailbox(
    state,
    () => storeName,
    (id) => a.record(id),
  );
  const [ma, mb] = [`a-${RUN}`, `b-${RUN}`];
  const id = `i-${RUN}`;
  a.setOwner(ma);
  b.setOwner(mb);
  await a.write({ record: record(id, ma, 1), chunk: started, active: true });
  await a.write({ record: record(id, ma, 2), chunk: step, active: true });
  expect(await peek(`wf-index:${ma}`)).toEqual([id]);

  // B fences A out (its tombstone), then takes its index and redirects its inbox.
  await b.fenceOut(ma);
  expect(await peek(`wf-fenced:${ma}`)).toEqual({ by: mb });
  await b.adopt(ma, [id], [mailbox.put(ma, { redirect: mb, messages: [] }, undefined)]);
  expect(await peek(`wf-index:${mb}`)).toEqual([id]);
  expect(await peek(`wf-index:${ma}`)).toBeUndefined();

  // A (paused meanwhile, unaware) appends its next step: refused, nothing written.
  await expect(a.write({ record: record(id, ma, 3), chunk: step, active: true })).rejects.toMatchObject({ code: 'ERR_STATE_FENCING_TOKEN_STALE' });
  expect(await peek(`wf-h:${id}:2`)).toBeUndefined();
  expect(await peek(`wf-meta:${id}`)).toMatchObject({ chunks: 2, owner: ma });

  // B appends the same step: accepted.
  await b.write({ record: record(id, mb, 3), chunk: step, active: true });
  expect(await peek(`wf-h:${id}:2`)).toEqual(step);
  expect(await peek(`wf-meta:${id}`)).toMatchObject({ chunks: 3, owner: mb });
  expect(await peek(`wf-fenced:${mb}`)).toBeUndefined(); // B's own assertion leaves no key behind
  // A cannot adopt anyone either (its adoption is a fenced transaction too).
  await expect(a.adopt(`c-${RUN}`, [], [])).rejects.toMatchObject({ code: 'ERR_STATE_FENCING_TOKEN_STALE' });

  // An event for the instance, sent where its record pointed (A), reaches B's inbox.
  await mailbox.send(ma, id, { type: 'EventRaised', at: 3, name: 'go', input: 1 });
  expect(await peek(`wf-inbox:${mb}`)).toMatchObject({ messages: [{ instanceId: id, event: { type: 'EventRaised', name: 'go' } }] });
  expect(await peek(`wf-inbox:${ma}`)).toEqual({ redirect: mb, messages: [] });
}

describe('workflow history appends are fenced per process', () => {
  it('SQLite: an adopted process cannot append; the adopter can; its events are redirected', async () => {
    const dir = tempDir('sidekick-wf-fence-');
    const file = join(dir, 'wf.db');
    const appId = `wffence${RUN}`;
    const t: TestApp = await startApp({
      appId,
      components: [{ metadata: { name: 'statestore' }, spec: { type: 'state.sqlite', version: 'v1', metadata: [{ name: 'connectionString', value: file }] } }],
    });
    try {
      const state = t.app.get(SidekickRuntime).service(StateService);
      await scenario(state, 'statestore', async (key) => {
        const db = new Database(file, { readonly: true });
        try {
          const row = db.prepare('SELECT value FROM state WHERE key = ?').get(`${appId}||${key}`) as { value: Buffer } | undefined;
          return row ? (JSON.parse(row.value.toString('utf8')) as unknown) : undefined;
        } finally {
          db.close();
        }
      });
    } finally {
      await t.close();
    }
  });

  it('Redis: an adopted process cannot append; the adopter can; its events are redirected', async () => {
    await requireRedis();
    const appId = `wffence${RUN}`;
    const t: TestApp = await startApp({
      appId,
      components: [
        { metadata: { name: 'statestore' }, spec: { type: 'state.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] } },
      ],
    });
    const redis = rawRedis();
    try {
      await redis.connect();
      const state = t.app.get(SidekickRuntime).service(StateService);
      await scenario(state, 'statestore', async (key) => {
        const data = await redis.hget(`${appId}||${key}`, 'data');
        return data === null ? undefined : (JSON.parse(data) as unknown);
      });
    } finally {
      await t.close();
      const keys = await redis.keys(`${appId}||*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('PostgreSQL: an adopted process cannot append; the adopter can; its events are redirected', async () => {
    await requirePostgres();
    const appId = `wffence${RUN}`;
    const table = `wffence_${RUN}`;
    const t: TestApp = await startApp({
      appId,
      components: [
        {
          metadata: { name: 'statestore' },
          spec: {
            type: 'state.postgresql',
            version: 'v1',
            metadata: [
              { name: 'connectionString', value: postgresUrl() },
              { name: 'tableName', value: table },
            ],
          },
        },
      ],
    });
    const pg = new Client({ connectionString: postgresUrl() });
    await pg.connect();
    try {
      const state = t.app.get(SidekickRuntime).service(StateService);
      await scenario(state, 'statestore', async (key) => {
        const rows = await pg.query(`SELECT value FROM ${table} WHERE key = $1`, [`${appId}||${key}`]);
        const value = rows.rows[0]?.value as Buffer | undefined; // a bytea column
        return value === undefined ? undefined : (JSON.parse(value.toString('utf8')) as unknown);
      });
    } finally {
      await t.close();
      await pg.query(`DROP TABLE IF EXISTS ${table}`);
      await pg.end();
    }
  });
});
