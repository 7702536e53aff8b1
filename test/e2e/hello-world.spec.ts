import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { tempDir } from '../support/app';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * samples/01-hello-world as a user runs it: the compiled nodeapp as its own process, and the Python
 * pythonapp talking to nodeapp's Dapr HTTP API exactly as it would to a daprd sidecar.
 */

const ROOT = resolve(__dirname, '../..');
const SAMPLE = join(ROOT, 'samples/01-hello-world');
const MAIN_JS = join(ROOT, 'dist/samples/01-hello-world/src/main.js');
const REDIS_KEY = 'nodeapp||order';

/** `npm run build` when dist is missing or older than any source it is compiled from. */
async function ensureBuilt(): Promise<void> {
  const built = existsSync(MAIN_JS) ? statSync(MAIN_JS).mtimeMs : 0;
  const sources = [join(ROOT, 'src'), join(ROOT, 'libs'), join(SAMPLE, 'src')];
  const newest = Math.max(...sources.map(newestTs), ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(ROOT, f)).mtimeMs));
  if (built >= newest) return;
  await new Promise<void>((ok, fail) => {
    execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`npm run build failed, so the sample cannot be run:\n${stdout}${stderr}`));
      else ok();
    });
  });
  if (!existsSync(MAIN_JS)) throw new Error(`npm run build succeeded but did not produce ${MAIN_JS}`);
}

function newestTs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** A child process with its output kept, and a promise of how it ended. */
class Proc {
  out = '';
  err = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (b: Buffer) => (this.out += b.toString('utf8').replace(ANSI, '')));
    child.stderr?.on('data', (b: Buffer) => (this.err += b.toString('utf8').replace(ANSI, '')));
    this.exited = new Promise((ok) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        ok(this.exit);
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** SIGTERM, then SIGKILL if it is still running after 5 s. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  describe(): string {
    return `${this.name} exit=${JSON.stringify(this.exit ?? 'running')}\n--- stdout ---\n${this.out.slice(-4000)}\n--- stderr ---\n${this.err.slice(-4000)}`;
  }
}

/** The environment a user's shell would have, minus anything that would change how the sample runs. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DAPR_API_TOKEN', 'SIDEKICK_HTTP_HOST', 'SIDEKICK_RESOURCES_PATH', 'SIDEKICK_DATA_DIR', 'SIDEKICK_REGISTRY_DIR', 'HOST', 'NODE_OPTIONS']) {
    delete env[name];
  }
  return { ...env, ...extra };
}

/** Starts the compiled nodeapp and waits for its Dapr HTTP API to answer `/v1.0/healthz` with 204. */
async function startNodeApp(cwd: string, env: Record<string, string>): Promise<{ proc: Proc; appUrl: string; apiUrl: string }> {
  const port = await freePort();
  const apiPort = await freePort();
  const child = spawn(process.execPath, [MAIN_JS], {
    cwd,
    env: baseEnv({ PORT: String(port), SIDEKICK_HTTP_PORT: String(apiPort), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc('nodeapp', child);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 20_000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`nodeapp exited before it was healthy\n${proc.describe()}`);
    try {
      const res = await fetch(`${apiUrl}/v1.0/healthz`);
      if (res.status === 204) return { proc, appUrl: `http://127.0.0.1:${port}`, apiUrl };
      last = `HTTP ${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop();
  throw new Error(`nodeapp's /v1.0/healthz did not answer 204 within 20 s (last: ${last})\n${proc.describe()}`);
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
  await ensureBuilt();
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

describe('samples/01-hello-world on Redis: pythonapp -> Dapr HTTP API -> nodeapp -> Redis', () => {
  let nodeapp: { proc: Proc; appUrl: string; apiUrl: string };
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
    python = new Proc(
      'pythonapp',
      spawn('python3', [join(SAMPLE, 'pythonapp/app.py')], {
        cwd: ROOT,
        env: baseEnv({ DAPR_HTTP_PORT: new URL(nodeapp.apiUrl).port, ORDER_INTERVAL_SECONDS: '0.2', MAX_ORDERS: '12', PYTHONUNBUFFERED: '1' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    running.push(python);
    const timer = setTimeout(() => python.child.kill('SIGTERM'), 15_000);
    await python.exited;
    clearTimeout(timer);
    const sent = [...python.out.matchAll(/^sent order (\d+): HTTP 200$/gm)].map((m) => Number(m[1]));
    if (sent.length === 0) throw new Error(`pythonapp sent no order successfully\n${python.describe()}\n${nodeapp.proc.describe()}`);
    lastOrder = sent[sent.length - 1] as number;
  }, 40_000);

  it('pythonapp sent every order with HTTP 200 and none failed', () => {
    expect(python.exit).toEqual({ code: 0, signal: null });
    expect(python.out).not.toMatch(/failed/);
    expect(lastOrder).toBe(12);
    const sent = [...python.out.matchAll(/^sent order (\d+): HTTP 200$/gm)].map((m) => Number(m[1]));
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
  let nodeapp: { proc: Proc; appUrl: string; apiUrl: string };

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

  it('GET /order returns it, on the app port and through the HTTP API', async () => {
    expect(await (await fetch(`${nodeapp.appUrl}/order`)).json()).toEqual({ orderId: 42 });
    expect(await (await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/order`)).json()).toEqual({ orderId: 42 });
  });

  it('rejects a body without data.orderId with 400', async () => {
    const res = await fetch(`${nodeapp.apiUrl}/v1.0/invoke/nodeapp/method/neworder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: 1 }),
    });
    expect(res.status).toBe(400);
  });

  it('exits with code 0 on SIGTERM, and the order survives a restart', async () => {
    expect(await nodeapp.proc.stop()).toEqual({ code: 0, signal: null });
    nodeapp = await startNodeApp(cwd, { SIDEKICK_REGISTRY_DIR: registry });
    running.push(nodeapp.proc);
    expect(await (await fetch(`${nodeapp.appUrl}/order`)).json()).toEqual({ orderId: 42 });
    expect(await nodeapp.proc.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);
});
