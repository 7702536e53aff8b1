import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { CliError } from '../shared/cli-error';
import { pruneLogs, recordPaths, removeRecord, type RunRecord, writeRecord } from '../shared/run-records';
import { reachableHost, urlHost } from './run-flags';

/** One app to run, with everything resolved (absolute paths, ports chosen). */
export interface AppSpec {
  readonly appId: string;
  readonly mode: 'sidecar' | 'sidekick';
  readonly command: readonly string[];
  readonly cwd: string;
  readonly httpPort: number;
  readonly appPort?: number;
  readonly resourcesPath?: string;
  readonly healthCheckPath?: string;
  /** Periodic app health checks (`--enable-app-health-check`): probe interval in s, timeout in ms, failure threshold. */
  readonly healthCheck?: AppHealthCheckSpec;
  /** The runtime's Prometheus port (`--metrics-port`, `SIDEKICK_METRICS_PORT`); default 9090. */
  readonly metricsPort?: number;
  /** A Dapr Configuration file (`--config`), given to the runtime as `SIDEKICK_CONFIG`. */
  readonly configFile?: string;
  /** Extra environment of the app (Multi-App Run's `env`). */
  readonly env?: Readonly<Record<string, string>>;
  /** `--app-max-concurrency`: at most this many requests from the sidecar to the app at a time (sidecar mode). */
  readonly maxConcurrency?: number;
  /** `--max-body-size`: the HTTP API's body limit in bytes (-1: none); undefined: the runtime's 4 MiB. */
  readonly maxBodyBytes?: number;
  /** `--read-buffer-size`: the HTTP API's request head limit in bytes; undefined: Node's 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** `--dapr-listen-addresses`: the addresses the HTTP API binds; undefined: 127.0.0.1. */
  readonly listenAddresses?: readonly string[];
  /** `--app-channel-address`: the host the app is reached on (sidecar mode); undefined: 127.0.0.1. */
  readonly appChannelAddress?: string;
  /** `--unix-domain-socket`: the HTTP API is served on this socket file only (no TCP port). */
  readonly socketPath?: string;
}

/** The URL of the HTTP API of a spec, as a client on this machine reaches it (its first listen address). */
export function apiUrl(spec: Pick<AppSpec, 'httpPort' | 'listenAddresses' | 'socketPath'>): string {
  if (spec.socketPath) return `unix:${spec.socketPath}`;
  return `http://${urlHost(reachableHost(spec.listenAddresses?.[0] ?? '127.0.0.1'))}:${spec.httpPort}`;
}

export interface AppHealthCheckSpec {
  readonly intervalS: number;
  readonly timeoutMs: number;
  readonly threshold: number;
}

export interface RunEnd {
  readonly code: number;
  readonly reason: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SIDECAR_MAIN = join(__dirname, '..', 'sidecar.main.js');

/**
 * Runs one app as `dapr run` does: the sidecar first (sidecar mode; it waits for the app's port
 * before delivering), then the app with Dapr's variables; their output prefixed and written to the
 * app's log file; when either ends, the other is stopped. `stop()` stops the sidecar first (its
 * in-flight deliveries to the app finish), then the app.
 */
export class AppRun {
  private sidecar?: ChildProcess;
  private app?: ChildProcess;
  private stopping?: Promise<void>;
  private ended?: (end: RunEnd) => void;
  readonly done: Promise<RunEnd>;
  private logs: WriteStream[] = [];
  private sidecarTail: string[] = [];

  constructor(
    readonly spec: AppSpec,
    private readonly prefixes: { readonly app: string; readonly sidecar: string },
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.done = new Promise((ok) => (this.ended = ok));
  }

  async start(): Promise<void> {
    const { spec } = this;
    const paths = recordPaths(spec.appId, process.pid, this.env);
    const appLog = createWriteStream(paths.log, { flags: 'a', mode: 0o600 });
    this.logs.push(appLog);
    let sidecarLog: WriteStream | undefined;
    if (spec.mode === 'sidecar') {
      sidecarLog = createWriteStream(paths.sidecarLog, { flags: 'a', mode: 0o600 });
      this.logs.push(sidecarLog);
      await this.startSidecar(sidecarLog);
    }
    const app = spawn(spec.command[0] ?? '', spec.command.slice(1), { cwd: spec.cwd, env: this.appEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.app = app;
    const spawned = await new Promise<Error | undefined>((ok) => {
      app.once('spawn', () => ok(undefined));
      app.once('error', ok);
    });
    if (spawned) {
      await this.stop();
      const code = (spawned as NodeJS.ErrnoException).code;
      throw new CliError(
        `could not start "${spec.command.join(' ')}" in ${spec.cwd}: ${code === 'ENOENT' ? `${spec.command[0]} was not found (is it installed and on PATH?)` : spawned.message}`,
      );
    }
    this.pipe(app, this.prefixes.app, appLog);
    app.once('exit', (code, signal) => this.onExit('app', code, signal));
    const record: RunRecord = {
      appId: spec.appId,
      cliPid: process.pid,
      appPid: app.pid,
      sidecarPid: this.sidecar?.pid,
      mode: spec.mode,
      appPort: spec.appPort,
      httpPort: spec.httpPort,
      httpApiUrl: spec.listenAddresses && !spec.socketPath ? apiUrl(spec) : undefined,
      socketPath: spec.socketPath,
      command: spec.command.join(' '),
      cwd: spec.cwd,
      logFile: paths.log,
      sidecarLogFile: sidecarLog ? paths.sidecarLog : undefined,
      startedAt: new Date().toISOString(),
    };
    writeRecord(record, this.env);
    pruneLogs(spec.appId, 5, this.env);
    // As the Dapr CLI does: the sidecar's metadata names the app's command and processes (GET /v1.0/metadata, `extended`).
    if (this.sidecar) await this.tellSidecar({ appCommand: record.command, cliPID: String(process.pid), appPID: String(app.pid ?? '') });
  }

  private async tellSidecar(values: Record<string, string>): Promise<void> {
    const token = this.env['DAPR_API_TOKEN'];
    for (const [key, value] of Object.entries(values)) {
      try {
        await apiRequest(this.spec, 'PUT', `/v1.0/metadata/${key}`, value, token ? { 'dapr-api-token': token } : {});
      } catch {
        // informative only: the run goes on without it
      }
    }
  }

  /** Stops the sidecar, then the app (SIGTERM; SIGKILL after the grace period). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await terminate(this.sidecar, 15_000);
      await terminate(this.app, 10_000);
      try {
        removeRecord(this.spec.appId, process.pid, this.env);
      } catch {
        // the registry folder is gone: nothing to remove
      }
      await Promise.all(this.logs.map((l) => new Promise<void>((ok) => l.end(ok))));
    })();
    return this.stopping;
  }

  private async startSidecar(log: WriteStream): Promise<void> {
    const { spec } = this;
    const env: NodeJS.ProcessEnv = {
      ...this.env,
      SIDEKICK_APP_ID: spec.appId,
      SIDEKICK_HTTP_PORT: String(spec.httpPort),
      SIDEKICK_APP_CHANNEL_URL: spec.appPort ? `http://${urlHost(spec.appChannelAddress ?? '127.0.0.1')}:${spec.appPort}` : '',
      SIDEKICK_APP_HEALTH_CHECK_PATH: spec.healthCheckPath ?? '',
      ...httpApiEnv(spec),
    };
    if (spec.maxConcurrency !== undefined) env['SIDEKICK_APP_MAX_CONCURRENCY'] = String(spec.maxConcurrency);
    if (spec.resourcesPath) env['SIDEKICK_RESOURCES_PATH'] = spec.resourcesPath;
    if (spec.configFile) env['SIDEKICK_CONFIG'] = spec.configFile;
    if (spec.metricsPort !== undefined) env['SIDEKICK_METRICS_PORT'] = String(spec.metricsPort);
    if (spec.healthCheck) {
      env['SIDEKICK_APP_HEALTH_CHECK'] = 'true';
      env['SIDEKICK_APP_HEALTH_PROBE_INTERVAL'] = String(spec.healthCheck.intervalS);
      env['SIDEKICK_APP_HEALTH_PROBE_TIMEOUT'] = String(spec.healthCheck.timeoutMs);
      env['SIDEKICK_APP_HEALTH_THRESHOLD'] = String(spec.healthCheck.threshold);
    }
    const sidecar = spawn(process.execPath, [SIDECAR_MAIN], { cwd: spec.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.sidecar = sidecar;
    this.pipe(sidecar, this.prefixes.sidecar, log, this.sidecarTail);
    let exited = false;
    sidecar.once('exit', (code, signal) => {
      exited = true;
      this.onExit('sidecar', code, signal);
    });
    // The app starts once the sidecar's components are ready (its Dapr HTTP API answers).
    const deadline = Date.now() + 60_000;
    while (!(await outboundHealthy(spec))) {
      if (exited) {
        await this.stop();
        const reason = this.sidecarTail.find((l) => l.startsWith('sidekick sidecar failed to start: '))?.slice(34) ?? this.sidecarTail.slice(-3).join(' | ');
        const fix = /EADDRINUSE/.test(reason)
          ? `: port ${spec.httpPort} is taken, choose another --dapr-http-port (or daprHTTPPort)`
          : /EADDRNOTAVAIL/.test(reason)
            ? ': fix --dapr-listen-addresses (or apiListenAddresses): list addresses of this machine'
            : '';
        throw new CliError(`the Sidekick sidecar of "${spec.appId}" exited before it was ready: ${reason || 'no output'}${fix}`);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new CliError(`the Sidekick sidecar of "${spec.appId}" was not ready within 60 s (port ${spec.httpPort}): see ${log.path.toString()}`);
      }
      await sleep(50);
    }
  }

  private appEnv(): NodeJS.ProcessEnv {
    const { spec } = this;
    // Python block-buffers a pipe: unbuffered, its prints show up as they happen (as on a terminal).
    const env: NodeJS.ProcessEnv = { PYTHONUNBUFFERED: '1', ...this.env, ...spec.env, APP_ID: spec.appId };
    // On a Unix socket the API has no TCP port to announce: the app is told the socket's path instead.
    if (spec.socketPath) env['DAPR_HTTP_SOCKET'] = spec.socketPath;
    else env['DAPR_HTTP_PORT'] = String(spec.httpPort);
    if (spec.appPort) env['APP_PORT'] = String(spec.appPort);
    // As the Dapr CLI: the app learns the address it is expected to listen on.
    if (spec.appChannelAddress) env['APP_CHANNEL_ADDRESS'] = spec.appChannelAddress;
    if (spec.mode === 'sidekick') {
      Object.assign(env, httpApiEnv(spec));
      env['SIDEKICK_APP_ID'] = spec.appId;
      env['SIDEKICK_HTTP_PORT'] = String(spec.httpPort);
      if (spec.resourcesPath) env['SIDEKICK_RESOURCES_PATH'] = spec.resourcesPath;
      if (spec.configFile) env['SIDEKICK_CONFIG'] = spec.configFile;
      if (spec.metricsPort !== undefined) env['SIDEKICK_METRICS_PORT'] = String(spec.metricsPort);
      if (spec.appPort) env['PORT'] = String(spec.appPort);
    }
    return env;
  }

  private pipe(child: ChildProcess, prefix: string, log: WriteStream, tail?: string[]): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        process.stdout.write(`${prefix}${line}\n`);
        log.write(`${line}\n`);
        if (tail) {
          tail.push(line);
          if (tail.length > 20) tail.shift();
        }
      });
    }
  }

  private onExit(which: 'app' | 'sidecar', code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `signal ${signal}` : `code ${code ?? 0}`;
    const reason = this.stopping ? 'stopped' : which === 'app' ? `the app exited (${how})` : `the sidecar exited (${how})`;
    // A graceful end by SIGTERM/SIGINT (e.g. the sidecar's POST /v1.0/shutdown) is a success; SIGKILL and others are not.
    const endCode = signal ? (this.stopping || signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1) : (code ?? 0);
    this.stop().then(
      () => this.ended?.({ code: endCode, reason }),
      (err: unknown) => {
        process.stderr.write(`error: stopping "${this.spec.appId}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
        this.ended?.({ code: 1, reason });
      },
    );
  }
}

/** The HTTP API's settings for the runtime (the sidecar's, or a Sidekick app's own). */
function httpApiEnv(spec: AppSpec): Record<string, string> {
  const env: Record<string, string> = {};
  if (spec.listenAddresses) env['SIDEKICK_HTTP_HOST'] = spec.listenAddresses.join(',');
  if (spec.maxBodyBytes !== undefined) env['SIDEKICK_HTTP_MAX_BODY_BYTES'] = String(spec.maxBodyBytes);
  if (spec.maxHeaderBytes !== undefined) env['SIDEKICK_HTTP_MAX_HEADER_BYTES'] = String(spec.maxHeaderBytes);
  if (spec.socketPath) env['SIDEKICK_HTTP_SOCKET'] = spec.socketPath;
  return env;
}

/** One request to the spec's HTTP API (over its Unix socket when it has one); resolves to the status. */
async function apiRequest(spec: AppSpec, method: 'GET' | 'PUT', path: string, body?: string, headers: Record<string, string> = {}): Promise<number> {
  const socketPath = spec.socketPath;
  const dispatcher = socketPath ? new Agent({ connect: { socketPath } }) : undefined;
  try {
    const res = await request(socketPath ? `http://localhost${path}` : `${apiUrl(spec)}${path}`, {
      method,
      body,
      headers,
      dispatcher,
      signal: AbortSignal.timeout(2000),
    });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await dispatcher?.close();
  }
}

async function outboundHealthy(spec: AppSpec): Promise<boolean> {
  try {
    return (await apiRequest(spec, 'GET', '/v1.0/healthz/outbound')) === 204;
  } catch {
    return false;
  }
}

/** SIGTERM, and SIGKILL if the process is still running after `graceMs`. */
async function terminate(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
