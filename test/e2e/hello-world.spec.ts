import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, startProcess, waitHealthy } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * samples/01-hello-world as a user runs it: the compiled nodeapp as its own process, and the Python
 * pythonapp talking to nodeapp's Dapr HTTP API exactly as it would to a daprd sidecar.
 */

const SAMPLE = join(ROOT, 'samples/01-hello-world');
const MAIN_JS = join(ROOT, 'dist/samples/01-hello-world/src/main.js');
const REDIS_KEY = 'nodeapp||order';

interface NodeApp {
  proc: Proc;
  appUrl: string;
  apiUrl: string;
}

/** Starts the compiled nodeapp and waits for its Dapr HTTP API to answer `/v1.0/healthz` with 204. */
async function startNodeApp(cwd: string, env: Record<string, string>): Promise<NodeApp> {
  const port = await freePort();
  const apiPort = await freePort();
  const proc = startNode('nodeapp', MAIN_JS, { cwd, env: { PORT: String(port), SIDEKICK_HTTP_PORT: String(apiPort), ...env } });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitHealthy(proc, apiUrl, 20_000);
  return { proc, appUrl: `http://127.0.0.1:${port}`, apiUrl };
}

/** The sample's components, pointed at the test Redis when it is not the sample's 127.0.0.1:6379. */
function redisComponents(): string {
  const folder = join(SAMPLE, 'components');
  const target = redisHostPort();
  if (target === '127.0.0.1:6379' || target === 'localhost:6379') return folder;
  const copy = tempDir('sidekick-hello-components-');
  for (const file of readdirSync(folder)) {
    writeFileSync(join(copy, file), readFileSync(join(folder, file), 'utf8').replace('value: 127.0.0.1:6379', `value: ${target}`));
  }
  return copy;
}

const running: Proc[] = [];

beforeAll(async () => {
  await ensureBuilt([MAIN_JS]);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

describe('samples/01-hello-world on Redis: pythonapp -> Dapr HTTP API -> nodeapp -> Redis', () => {
  let nodeapp: NodeApp;
  let python: Proc;
  let lastOrder: number;

  beforeAll(async () => {
    await requireRedis();
    const redis = rawRedis();
    try {
      await redis.connect();
      await redis.del(REDIS_KEY); // a value left by an earlier run cannot pass the test
    } finally {
      redis.disconnect();
    }
    const dir = tempDir('sidekick-hello-redis-');
    nodeapp = await startNodeApp(ROOT, {
      SIDEKICK_RESOURCES_PATH: redisComponents(),
      REDIS_PASSWORD: '',
      SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
      SIDEKICK_DATA_DIR: join(dir, 'data'),
    });
    running.push(nodeapp.proc);

    // MAX_ORDERS ends pythonapp by itself: killing it mid-run could land after nodeapp stored order
    // N+1 but before pythonapp printed "sent order N+1", and the test would then look at the wrong N.
    python = startProcess('pythonapp', 'python3', [join(SAMPLE, 'pythonapp/app.py')], {
      env: { DAPR_HTTP_PORT: new URL(nodeapp.apiUrl).port, ORDER_INTERVAL_SECONDS: '0.2', MAX_ORDERS: '12', PYTHONUNBUFFERED: '1' },
    });
    running.push(python);
    const timer = setTimeout(() => python.child.kill('SIGTERM'), 15_000);
    await python.exited;
    clearTimeout(timer);
    const sent = python.matches(/^sent order (\d+): HTTP 200$/gm).map(Number);
    if (sent.length === 0) throw new Error(`pythonapp sent no order successfully\n${python.describe()}\n${nodeapp.proc.describe()}`);
    lastOrder = sent[sent.length - 1] as number;
  }, 40_000);

  it('pythonapp sent every order with HTTP 200 and none failed', () => {
    expect(python.exit).toEqual({ code: 0, signal: null });
    expect(python.out).not.toMatch(/failed/);
    expect(lastOrder).toBe(12);
    const sent = python.matches(/^sent order (\d+): HTTP 200$/gm).map(Number);
    expect(sent).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('nodeapp logged the last order', () => {
    expect(nodeapp.proc.out).toContain(`Got a new order! Order ID: ${lastOrder}`);
    expect(nodeapp.proc.out).toContain(`Successfully persisted state for Order ID: ${lastOrder}`);
  });

  it('GET /order through the HTTP API service invocation returns the last order', async () => {
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/order`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ orderId: lastOrder });
  });

  it('the state API returns the last order', async () => {
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/state/statestore/order`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^\d+$/);
    expect(await res.json()).toEqual({ orderId: lastOrder });
  });

  it("Redis holds it in daprd's layout: hash nodeapp||order with data and version", async () => {
    const redis = rawRedis();
    try {
      await redis.connect();
      const hash = await redis.hgetall(REDIS_KEY);
      expect(hash['data']).toBe(JSON.stringify({ orderId: lastOrder }));
      expect(hash['version']).toMatch(/^\d+$/);
      expect(Number(hash['version'])).toBeGreaterThanOrEqual(lastOrder);
    } finally {
      redis.disconnect();
    }
  });

  it('nodeapp shuts down gracefully on SIGTERM with exit code 0', async () => {
    const exit = await nodeapp.proc.stop();
    expect({ exit, stderr: nodeapp.proc.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
  }, 10_000);
});

describe('samples/01-hello-world on embedded defaults (no components folder): SQLite in ./.sidekick', () => {
  let cwd: string;
  let registry: string;
  let nodeapp: NodeApp;

  beforeAll(async () => {
    cwd = tempDir('sidekick-hello-embedded-');
    registry = join(tempDir('sidekick-hello-registry-'), 'registry');
    mkdirSync(registry);
    nodeapp = await startNodeApp(cwd, { SIDEKICK_REGISTRY_DIR: registry });
    running.push(nodeapp.proc);
  }, 30_000);

  it('accepts POST /neworder through the HTTP API and stores it in .sidekick/state.db', async () => {
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/neworder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { orderId: 42 } }),
    });
    expect(res.status).toBe(200);
    expect(existsSync(join(cwd, '.sidekick/state.db'))).toBe(true);
    expect(nodeapp.proc.out).toContain('Got a new order! Order ID: 42');
  });

  it('takes an invocation body of 1 MiB (the app parses JSON up to the HTTP API body limit)', async () => {
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/neworder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { orderId: 41, note: 'x'.repeat(1024 * 1024) } }),
    });
    expect(res.status).toBe(200);
  });

  it('GET /order returns it, on the app port and through the HTTP API', async () => {
    expect(await (await fetch(`${nodeapp.appUrl}/order`)).json()).toMatchObject({ orderId: 41 });
    expect(await (await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/order`)).json()).toMatchObject({ orderId: 41 });
  });

  it('rejects a body without data.orderId with 400', async () => {
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/neworder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: 1 }),
    });
    expect(res.status).toBe(400);
  });

  it('a second instance of the same app id notes the first one at start-up', async () => {
    const twin = await startNodeApp(cwd, { SIDEKICK_REGISTRY_DIR: registry });
    running.push(twin.proc);
    const deadline = Date.now() + 5000;
    while (!/other running instance/.test(twin.proc.out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(twin.proc.out).toMatch(/1 other running instance\(s\) of app id nodeapp on this machine/);
    expect(twin.proc.out).toContain(String(nodeapp.proc.child.pid));
    expect(await twin.proc.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('exits with code 0 on SIGTERM, and the order survives a restart', async () => {
    expect(await nodeapp.proc.stop()).toEqual({ code: 0, signal: null });
    nodeapp = await startNodeApp(cwd, { SIDEKICK_REGISTRY_DIR: registry });
    running.push(nodeapp.proc);
    expect(await (await fetch(`${nodeapp.appUrl}/order`)).json()).toMatchObject({ orderId: 41 });
    expect(await nodeapp.proc.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('shuts down gracefully on POST /v1.0/shutdown (204, drained, exit code 0), as daprd', async () => {
    nodeapp = await startNodeApp(cwd, { SIDEKICK_REGISTRY_DIR: registry });
    running.push(nodeapp.proc);
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/shutdown`, { method: 'POST' });
    expect(res.status).toBe(204);
    const exit = await Promise.race([nodeapp.proc.exited, new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000))]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(nodeapp.proc.out).toMatch(/drained: every in-flight handler and request finished/);
  }, 30_000);
});
