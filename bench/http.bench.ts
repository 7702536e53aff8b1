import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpClient } from './lib/http-client';
import { jsonValue, KEY_PREFIX, rawRedis, type RawRedis } from './lib/redis';
import { type Metric, printComparison, round } from './lib/report';
import { compare, envInt } from './lib/runner';
import { type BenchApp, startBenchApp } from './lib/sidekick-app';

const KEYS = 64;
const STATE_PATH = '/v1.0/state/statestore/';

/**
 * The raw baseline for a state get over HTTP: a bare `node:http` server on loopback whose handler
 * takes the key from the path, runs the HMGET and writes the data bytes with the same headers as
 * Dapr's answer (content-type, content-length, etag).
 */
async function startRawStateServer(redis: RawRedis): Promise<{ server: Server; url: string }> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const url = req.url ?? '/';
    const key = KEY_PREFIX + decodeURIComponent(url.slice(url.lastIndexOf('/') + 1));
    redis.hmgetBuffer(key, 'data', 'version').then(
      ([data, version]) => {
        if (!data) {
          res.writeHead(204);
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': data.length, etag: version ? version.toString() : '0' });
        res.end(data);
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * 1. GET /v1.0/state/statestore/{key} on Sidekick's HTTP API vs the bare node:http + HMGET server.
 * 2. GET /v1.0/invoke/bench/method/order on the HTTP API (in-process dispatch into the Nest app) vs
 *    GET /order on the app port.
 * Same client (undici Pool, 1 keep-alive connection, concurrency 1) for every side.
 */
export async function runHttpBench(): Promise<Metric[]> {
  const ops = envInt('BENCH_HTTP_OPS', 2_000);
  const rounds = envInt('BENCH_HTTP_ROUNDS', 15);
  const warmup = envInt('BENCH_HTTP_WARMUP', 3_000);
  const value = jsonValue(1024);

  let bench: BenchApp | undefined;
  let raw: RawRedis | undefined;
  let rawServer: Server | undefined;
  const clients: HttpClient[] = [];
  try {
    bench = await startBenchApp();
    raw = await rawRedis();
    const started = await startRawStateServer(raw);
    rawServer = started.server;
    const store = bench.client.state('statestore');
    const keys = Array.from({ length: KEYS }, (_, i) => `http-${i}`);
    for (const key of keys) await store.save(key, value);

    const api = new HttpClient(bench.apiUrl);
    const bare = new HttpClient(started.url);
    const app = new HttpClient(bench.appUrl);
    clients.push(api, bare, app);

    const fromApi = await api.get(STATE_PATH + (keys[0] as string));
    const fromBare = await bare.get(STATE_PATH + (keys[0] as string));
    if (!fromApi.equals(fromBare)) throw new Error('the HTTP API and the raw server answer different bytes');
    const viaInvoke = await api.get('/v1.0/invoke/bench/method/order');
    const direct = await app.get('/order');
    if (!viaInvoke.equals(direct)) throw new Error('invoke and the direct route answer different bytes');

    const stateGet = await compare(
      'http state get (Sidekick HTTP API vs bare node:http + ioredis HMGET)',
      { label: 'sidekick api', op: (i) => api.get(STATE_PATH + (keys[i % KEYS] as string)) },
      { label: 'bare http', op: (i) => bare.get(STATE_PATH + (keys[i % KEYS] as string)) },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(stateGet);
    const invoke = await compare(
      'http invoke self (GET /v1.0/invoke/bench/method/order vs GET /order on the app port)',
      { label: 'via invoke', op: () => api.get('/v1.0/invoke/bench/method/order') },
      { label: 'direct', op: () => app.get('/order') },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(invoke);

    await raw.del(...keys.map((k) => KEY_PREFIX + k));
    // Headline figures: medians over adjacent A/B round pairs (see Comparison.paired).
    return [
      { id: 'http.state.get.added_p50_ms', value: round(stateGet.paired.p50DiffMs, 4), unit: 'ms' },
      { id: 'http.invoke.self.p50_ratio', value: round(invoke.paired.p50), unit: 'x' },
      { id: 'http.state.get.sidekick_p50_ms', value: round(stateGet.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'http.state.get.raw_p50_ms', value: round(stateGet.b.median.p50Ms, 4), unit: 'ms' },
      { id: 'http.state.get.p50_ratio', value: round(stateGet.paired.p50), unit: 'x' },
      { id: 'http.state.get.p99_ratio', value: round(stateGet.paired.p99), unit: 'x' },
      { id: 'http.invoke.self.invoke_p50_ms', value: round(invoke.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'http.invoke.self.direct_p50_ms', value: round(invoke.b.median.p50Ms, 4), unit: 'ms' },
      { id: 'http.invoke.self.added_p50_ms', value: round(invoke.paired.p50DiffMs, 4), unit: 'ms' },
      { id: 'http.invoke.self.p99_ratio', value: round(invoke.paired.p99), unit: 'x' },
    ];
  } finally {
    for (const client of clients) await client.close().catch(() => undefined);
    if (rawServer) {
      rawServer.closeAllConnections();
      await new Promise((resolve) => rawServer?.close(resolve));
    }
    if (raw) await raw.quit().catch(() => raw?.disconnect());
    if (bench) await bench.close();
  }
}

if (require.main === module) {
  runHttpBench()
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
