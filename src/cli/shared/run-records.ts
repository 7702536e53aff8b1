import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalRegistry, type RegisteredApp } from '../../runtime/blocks/invoke/local-registry';
import { defaultRegistryDir } from '../../runtime/sidekick.options';

/**
 * What `sidekick run` records about each app it runs, next to the local registry (in its `.cli`
 * folder, which no app id can name): `<appId>.<cliPid>.json`, and the app's output in
 * `<appId>.<cliPid>.log` (the sidecar's in `<appId>.<cliPid>.sidecar.log`). `list`, `stop`, `logs`,
 * `invoke` and `publish` read them. Records of runs that ended are removed by `list`; the logs of
 * the last 5 runs of each app id are kept.
 */
export interface RunRecord {
  readonly appId: string;
  /** The `sidekick run` process. */
  readonly cliPid: number;
  readonly appPid?: number;
  readonly sidecarPid?: number;
  readonly mode: 'sidecar' | 'sidekick';
  readonly appPort?: number;
  readonly httpPort: number;
  /** Where the CLI reaches the HTTP API when not on 127.0.0.1 (`--dapr-listen-addresses`). */
  readonly httpApiUrl?: string;
  /** The API's Unix socket (`--unix-domain-socket`): it has no TCP address the other commands could use. */
  readonly socketPath?: string;
  readonly command: string;
  readonly cwd: string;
  readonly logFile: string;
  readonly sidecarLogFile?: string;
  readonly startedAt: string;
}

export function registryDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['SIDEKICK_REGISTRY_DIR'] || defaultRegistryDir());
}

/** The registry folder (created 0700, refused when unsafe) and its `.cli` folder. */
export function runsDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = registryDir(env);
  new LocalRegistry(dir).prepare();
  const runs = join(dir, '.cli');
  mkdirSync(runs, { recursive: true, mode: 0o700 });
  return runs;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function recordPaths(appId: string, cliPid: number, env: NodeJS.ProcessEnv = process.env): { record: string; log: string; sidecarLog: string } {
  const dir = runsDir(env);
  const base = join(dir, `${appId}.${cliPid}`);
  return { record: `${base}.json`, log: `${base}.log`, sidecarLog: `${base}.sidecar.log` };
}

export function writeRecord(record: RunRecord, env: NodeJS.ProcessEnv = process.env): void {
  writeFileSync(recordPaths(record.appId, record.cliPid, env).record, JSON.stringify(record, null, 2), { mode: 0o600 });
}

export function removeRecord(appId: string, cliPid: number, env: NodeJS.ProcessEnv = process.env): void {
  rmSync(recordPaths(appId, cliPid, env).record, { force: true });
}

/** Every run record; `live` keeps only those whose `sidekick run` still runs (dead ones are removed). */
export function readRecords(env: NodeJS.ProcessEnv = process.env, live = true): RunRecord[] {
  const dir = join(registryDir(env), '.cli');
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue;
    let record: RunRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as RunRecord;
    } catch {
      continue;
    }
    if (typeof record.appId !== 'string' || typeof record.cliPid !== 'number') continue;
    if (live && !isAlive(record.cliPid)) {
      rmSync(join(dir, file), { force: true });
      continue;
    }
    out.push(record);
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** The newest log file of an app id (running or not). */
export function latestLog(appId: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = join(registryDir(env), '.cli');
  if (!existsSync(dir)) return undefined;
  const logs = logsOf(dir, appId);
  return logs[logs.length - 1];
}

/** Removes all but the newest `keep` logs of an app id. */
export function pruneLogs(appId: string, keep: number, env: NodeJS.ProcessEnv = process.env): void {
  const dir = join(registryDir(env), '.cli');
  const logs = logsOf(dir, appId);
  for (const log of logs.slice(0, Math.max(0, logs.length - keep))) {
    rmSync(log, { force: true });
    rmSync(log.replace(/\.log$/, '.sidecar.log'), { force: true });
  }
}

function logsOf(dir: string, appId: string): string[] {
  const pattern = new RegExp(`^${appId.replace(/[.]/g, '\\.')}\\.\\d+\\.log$`);
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

/** A running app: its registry entry and/or the record of the `sidekick run` that started it. */
export interface RunningApp {
  readonly appId: string;
  readonly httpPort?: number;
  readonly appPort?: number;
  readonly pid?: number;
  readonly cliPid?: number;
  readonly startedAt?: string;
  readonly command?: string;
  readonly httpApiUrl?: string;
  readonly record?: RunRecord;
}

/** What `sidekick list` shows: the registry's apps, joined with the run records (apps without an app port are only in those). */
export function runningApps(env: NodeJS.ProcessEnv = process.env): RunningApp[] {
  const registry = new LocalRegistry(registryDir(env));
  const entries = registry.list();
  const records = readRecords(env);
  const used = new Set<RunRecord>();
  const apps: RunningApp[] = entries.map((entry: RegisteredApp) => {
    const httpPort = entry.httpApiUrl ? Number(new URL(entry.httpApiUrl).port) : undefined;
    const record = records.find(
      (r) => r.appId === entry.appId && !used.has(r) && (r.httpPort === httpPort || r.appPid === entry.pid || r.sidecarPid === entry.pid),
    );
    if (record) used.add(record);
    return {
      appId: entry.appId,
      httpPort,
      appPort: record?.appPort ?? (Number(new URL(entry.baseUrl).port) || undefined),
      pid: record?.appPid ?? entry.pid,
      cliPid: record?.cliPid,
      startedAt: record?.startedAt ?? entry.startedAt,
      command: record?.command,
      httpApiUrl: entry.httpApiUrl,
      record,
    };
  });
  for (const record of records.filter((r) => !used.has(r))) {
    apps.push({
      appId: record.appId,
      httpPort: record.httpPort,
      appPort: record.appPort,
      pid: record.appPid,
      cliPid: record.cliPid,
      startedAt: record.startedAt,
      command: record.command,
      httpApiUrl: record.socketPath ? undefined : (record.httpApiUrl ?? `http://127.0.0.1:${record.httpPort}`),
      record,
    });
  }
  return apps.sort((a, b) => a.appId.localeCompare(b.appId));
}
