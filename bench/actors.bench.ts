import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type INestApplication, Module } from '@nestjs/common';
import Redis from 'ioredis';
import { NestFactory } from '@nestjs/core';
import { AbstractActor, Actor, type InlineComponent, SidekickClient, SidekickModule, SidekickRuntime } from '../src';
import { ActorsService } from '../src/runtime/blocks/actors/actors.service';
import { silentLogger } from './lib/sidekick-app';
import { REDIS_HOST, REDIS_PORT } from './lib/redis';
import { type Metric, printComparison, round } from './lib/report';
import { compare, envInt } from './lib/runner';
import { percentile } from './lib/stats';

let fired = 0;
let firstFireNs = 0n;
let lastFireNs = 0n;

@Actor({ type: 'BenchAccount' })
class BenchAccount extends AbstractActor {
  async deposit(amount: number): Promise<number> {
    const balance = ((await this.state.get<number>('balance')) ?? 0) + amount;
    await this.state.set('balance', balance);
    return balance;
  }

  async ping(): Promise<number> {
    return 1;
  }
}

@Actor({ type: 'BenchReminded' })
class BenchReminded extends AbstractActor {
  async remind(dueTime: string, period: string): Promise<void> {
    await this.registerReminder('tick', { dueTime, period });
  }

  async receiveReminder(): Promise<void> {
    const now = process.hrtime.bigint();
    if (fired === 0) firstFireNs = now;
    lastFireNs = now;
    fired++;
  }
}

interface ActorApp {
  readonly app: INestApplication;
  readonly client: SidekickClient;
  close(): Promise<void>;
}

async function startActorApp(store: 'sqlite' | 'redis', appId: string, placement = false): Promise<ActorApp> {
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-bench-actors-'));
  const component: InlineComponent =
    store === 'sqlite'
      ? {
          metadata: { name: 'actorstore' },
          spec: {
            type: 'state.sqlite',
            version: 'v1',
            metadata: [
              { name: 'connectionString', value: join(dir, 'actors.db') },
              { name: 'actorStateStore', value: 'true' },
            ],
          },
        }
      : {
          metadata: { name: 'actorstore' },
          spec: {
            type: 'state.redis',
            version: 'v1',
            metadata: [
              { name: 'redisHost', value: `${REDIS_HOST}:${REDIS_PORT}` },
              { name: 'actorStateStore', value: 'true' },
            ],
          },
        };
  @Module({
    imports: [
      SidekickModule.forRoot({
        appId,
        resourcesPath: dir,
        dataDir: dir,
        components: [component],
        httpApi: placement ? { port: 0 } : { enabled: false },
        nameResolution: { localRegistry: false },
        logger: silentLogger,
        actors: { placement: { enabled: placement, leaseMs: 5000 } },
      }),
    ],
    providers: [BenchAccount, BenchReminded],
  })
  class ActorBenchModule {}
  const app = await NestFactory.create(ActorBenchModule, { logger: false });
  if (placement) await app.listen(0, '127.0.0.1');
  else await app.init();
  return {
    app,
    client: app.get(SidekickClient),
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Actors in one process: a method call through the proxy against the same method called directly on
 * the same instance followed by the same state save (so both sides do the same work: the difference
 * is the actor runtime: turn, activation lookup, call chain); activation of a new id; reminders
 * fired per second when 10,000 reminders of period 1 s fall due together, on SQLite and on Redis.
 */
export async function runActorsBench(): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const ops = envInt('BENCH_ACTORS_OPS', 5000);
  const rounds = envInt('BENCH_ACTORS_ROUNDS', 5);
  const bench = await startActorApp('sqlite', 'benchactors');
  try {
    const proxy = bench.client.actors.proxy(BenchAccount, 'hot');
    await proxy.deposit(1);
    const instance = bench.app.get(SidekickRuntime).service(ActorsService).activeInstance('BenchAccount', 'hot') as BenchAccount;
    const c = await compare(
      'actor call (proxy, SQLite) vs plain call + same state save',
      { label: 'actor', op: () => proxy.deposit(1) },
      {
        label: 'plain',
        op: async () => {
          const v = await instance.deposit(1);
          await instance.state.save();
          return v;
        },
      },
      { ops, concurrency: 1, rounds, warmup: 1000 },
    );
    printComparison(c);
    metrics.push(
      { id: 'actors.call.p50_us', value: round(c.a.median.p50Ms * 1000, 2), unit: 'us' },
      { id: 'actors.call.p50_ratio_to_plain', value: round(c.paired.p50), unit: 'x' },
      { id: 'actors.call.p99_us', value: round(c.a.median.p99Ms * 1000, 2), unit: 'us' },
      { id: 'actors.call.plain_p50_us', value: round(c.b.median.p50Ms * 1000, 2), unit: 'us' },
    );

    const n = envInt('BENCH_ACTORS_ACTIVATIONS', 5000);
    for (let i = 0; i < 500; i++) await bench.client.actors.proxy(BenchAccount, `warm-${i}`).ping();
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await bench.client.actors.proxy(BenchAccount, `new-${i}`).ping();
      times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    times.sort();
    process.stdout.write(`activation of a new id + first call: p50 ${percentile(times, 50).toFixed(4)} ms, p99 ${percentile(times, 99).toFixed(4)} ms\n`);
    metrics.push(
      { id: 'actors.activation.p50_ms', value: round(percentile(times, 50), 4), unit: 'ms' },
      { id: 'actors.activation.p99_ms', value: round(percentile(times, 99), 4), unit: 'ms' },
    );
  } finally {
    await bench.close();
  }

  metrics.push(...(await forwardedBench(ops, rounds)));

  for (const store of ['sqlite', 'redis'] as const) {
    const count = envInt('BENCH_ACTORS_REMINDERS', 10_000);
    const appId = `benchrem${Date.now()}`;
    const app = await startActorApp(store, appId);
    try {
      fired = 0;
      const due = new Date(Date.now() + 3000 + count / 5).toISOString();
      const started = Date.now();
      for (let i = 0; i < count; i += 500) {
        await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => app.client.actors.proxy(BenchReminded, `r-${i + j}`).remind(due, '1s')));
      }
      const registeredMs = Date.now() - started;
      const deadline = Date.now() + 60_000;
      while (fired < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const waveMs = Number(lastFireNs - firstFireNs) / 1e6;
      const perS = Math.round(fired / Math.max(waveMs / 1000, 1e-3));
      // Steady state: period 1 s, so at most `count` per second.
      const before = fired;
      await new Promise((r) => setTimeout(r, 3000));
      const steady = Math.round((fired - before) / 3);
      process.stdout.write(
        `reminders on ${store}: ${count} registered in ${registeredMs} ms; a wave of ${count} due together fired in ${waveMs.toFixed(1)} ms = ${perS}/s; then ${steady}/s (period 1 s)\n`,
      );
      metrics.push(
        { id: `actors.reminders.${store}.per_s`, value: perS, unit: 'ops/s' },
        { id: `actors.reminders.${store}.steady_per_s`, value: steady, unit: 'ops/s' },
      );
    } finally {
      await app.close();
      if (store === 'redis') await dropRedisKeys(appId);
    }
  }
  return metrics;
}

/**
 * Two instances of one app id in this process, placement on Redis: a call from the instance that does
 * not own the actor is forwarded to its owner through the HTTP API (one hop); against the same call
 * made on the owner.
 */
async function forwardedBench(ops: number, rounds: number): Promise<Metric[]> {
  const appId = `benchfwd${Date.now()}`;
  const one = await startActorApp('redis', appId, true);
  const two = await startActorApp('redis', appId, true);
  try {
    const services = [one, two].map((x) => x.app.get(SidekickRuntime).service(ActorsService));
    const deadline = Date.now() + 20_000;
    let id = '';
    while (!id) {
      if (Date.now() > deadline) throw new Error('the two instances did not see each other');
      await new Promise((r) => setTimeout(r, 100));
      const candidates = Array.from({ length: 50 }, (_, i) => `fwd-${i}`);
      id = candidates.find((c) => !(services[0] as ActorsService).owns('BenchAccount', c) && (services[1] as ActorsService).owns('BenchAccount', c)) ?? '';
    }
    const remote = one.client.actors.proxy(BenchAccount, id);
    const local = two.client.actors.proxy(BenchAccount, id);
    await remote.deposit(1);
    const c = await compare(
      'actor call forwarded to the owner (Redis, HTTP) vs the same call on the owner',
      { label: 'forwarded', op: () => remote.deposit(1) },
      { label: 'on the owner', op: () => local.deposit(1) },
      { ops: Math.max(500, Math.floor(ops / 5)), concurrency: 1, rounds, warmup: 200 },
    );
    printComparison(c);
    return [
      { id: 'actors.forwarded.p50_ms', value: round(c.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'actors.forwarded.owner_p50_ms', value: round(c.b.median.p50Ms, 4), unit: 'ms' },
    ];
  } finally {
    await one.close();
    await two.close();
    await dropRedisKeys(appId);
  }
}

/** Deletes what a Redis run left (the app id is new each run). */
async function dropRedisKeys(appId: string): Promise<void> {
  const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT, lazyConnect: true });
  await redis.connect();
  for (const pattern of [`${appId}||*`, `actors||${appId}||*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
  await redis.quit();
}

if (require.main === module) {
  runActorsBench()
    .then((m) => console.log(JSON.stringify(m, null, 2)))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
