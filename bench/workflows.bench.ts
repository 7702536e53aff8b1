import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Activity, SidekickClient, SidekickModule, Workflow, type ActivityContext, type WorkflowContext } from '../src';
import { WorkflowRunner } from '../src/runtime/blocks/workflows/workflow.runner';
import type { HistoryEvent } from '../src/runtime/blocks/workflows/workflow.types';
import { silentLogger } from '../src/testing';
import { REDIS_HOST, REDIS_PORT } from './lib/redis';
import { type Metric, round, table } from './lib/report';

@Injectable()
class BenchWorkflows {
  @Activity('inc')
  inc(_ctx: ActivityContext, n: number): number {
    return n + 1;
  }

  @Workflow('chain3')
  async chain3(ctx: WorkflowContext, n: number): Promise<number> {
    const a = await ctx.callActivity<number>('inc', n);
    const b = await ctx.callActivity<number>('inc', a);
    return ctx.callActivity<number>('inc', b);
  }
}

type Store = 'sqlite' | 'redis';

async function app(store: Store, prefix: string): Promise<{ client: SidekickClient; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-bench-wf-'));
  const component =
    store === 'sqlite'
      ? { metadata: { name: 'statestore' }, spec: { type: 'state.sqlite', version: 'v1', metadata: [{ name: 'connectionString', value: join(dir, 'wf.db') }] } }
      : {
          metadata: { name: 'statestore' },
          spec: {
            type: 'state.redis',
            version: 'v1',
            metadata: [
              { name: 'redisHost', value: `${REDIS_HOST}:${REDIS_PORT}` },
              { name: 'keyPrefix', value: prefix },
            ],
          },
        };
  @Module({
    imports: [
      SidekickModule.forRoot({
        appId: 'bench-wf',
        resourcesPath: dir,
        dataDir: dir,
        components: [component],
        httpApi: { enabled: false },
        nameResolution: { localRegistry: false },
        logger: silentLogger,
      }),
    ],
    providers: [BenchWorkflows],
  })
  class WorkflowBenchModule {}
  const ctx = await NestFactory.createApplicationContext(WorkflowBenchModule, { logger: false });
  await ctx.init();
  return { client: ctx.get(SidekickClient), close: () => ctx.close() };
}

/** `total` 3-activity chains with `concurrency` in flight; workflows/s and p50 start-to-completion. */
async function closedLoop(client: SidekickClient, concurrency: number, total: number, tag: string): Promise<{ perS: number; p50: number }> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      const id = await client.workflows.schedule('chain3', { instanceId: `${tag}-${i}`, input: i });
      const state = await client.workflows.waitForCompletion(id);
      if (state.output !== i + 3) throw new Error(`${id}: ${JSON.stringify(state)}`);
      latencies.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perS: total / seconds, p50: latencies[Math.floor(latencies.length / 2)] ?? 0 };
}

/** Replays a recorded history of 1,000+ events (a 500-activity chain) with a fresh runner: ms, median of 5. */
async function replayCost(): Promise<number> {
  const chain = async (ctx: WorkflowContext): Promise<number> => {
    let n = 0;
    for (let i = 0; i < 500; i++) n = await ctx.callActivity<number>('inc', n);
    return n;
  };
  const history: HistoryEvent[] = [
    { type: 'OrchestratorStarted', at: 0 },
    { type: 'ExecutionStarted', at: 0, name: 'chain' },
  ];
  for (let i = 0; i < 500; i++) {
    history.push({ type: 'TaskScheduled', at: 0, id: i, name: 'inc', input: i });
    history.push({ type: 'TaskCompleted', at: 0, taskId: i, result: i + 1 });
  }
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const out = await new WorkflowRunner('bench', 'chain', chain, silentLogger).replay(history);
    times.push(performance.now() - t0);
    if (out.completed?.output !== 500) throw new Error('replay did not reach the end');
  }
  times.sort((a, b) => a - b);
  return times[2] ?? 0;
}

/** Deletes the bench's keys from the shared Redis. */
async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT, lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function runWorkflowBench(): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const rows: string[][] = [['store', 'concurrency', 'workflows/s', 'p50 start→completed (ms)']];
  const run = Date.now().toString(36);
  for (const store of ['sqlite', 'redis'] as const) {
    const { client, close } = await app(store, `benchwf${run}`);
    try {
      await closedLoop(client, 50, 500, `${store}-warm`);
      for (const c of [100, 500]) {
        const r = await closedLoop(client, c, c * 10, `${store}-c${c}`);
        rows.push([store, String(c), r.perS.toFixed(0), r.p50.toFixed(1)]);
        metrics.push({ id: `workflows.${store}.c${c}.per_s`, value: round(r.perS, 0), unit: 'workflows/s' });
        if (c === 100 && store === 'sqlite') metrics.push({ id: 'workflows.sqlite.c100.p50_ms', value: round(r.p50, 1), unit: 'ms' });
      }
    } finally {
      await close();
      if (store === 'redis') await dropKeys(`benchwf${run}||`);
    }
  }
  const replay = await replayCost();
  metrics.push({ id: 'workflows.replay_1000_events_ms', value: round(replay, 1), unit: 'ms' });
  process.stdout.write(`${table(rows)}\nreplay of a 1,002-event history: ${replay.toFixed(1)} ms\n`);
  return metrics;
}

if (require.main === module) {
  runWorkflowBench().then(
    (m) => process.stdout.write(`${JSON.stringify(m, null, 2)}\n`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
