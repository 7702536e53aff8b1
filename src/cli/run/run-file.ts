import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../../errors/zod-issues';
import { CliError } from '../shared/cli-error';
import { bodyLimit, headerLimit, parseChannelAddress, parseConcurrency, parseListenAddresses } from './run-flags';

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const env = z.record(z.string(), scalar);
const port = z.coerce.number().int().min(1).max(65535);

/** The fields of an app (and of `common`) that Sidekick reads; Dapr's other fields are accepted and listed as ignored. */
const appFields = {
  appID: z.string().min(1).optional(),
  appDirPath: z.string().min(1).optional(),
  appPort: port.optional(),
  appProtocol: z.string().optional(),
  command: z.union([z.array(z.string()).min(1), z.string().min(1)]).optional(),
  resourcesPath: z.string().optional(),
  resourcesPaths: z.array(z.string()).optional(),
  configFilePath: z.string().optional(),
  daprHTTPPort: port.optional(),
  metricsPort: port.optional(),
  appHealthCheckPath: z.string().optional(),
  enableAppHealthCheck: z.boolean().optional(),
  appHealthProbeInterval: z.coerce.number().int().positive().optional(),
  appHealthProbeTimeout: z.coerce.number().int().positive().optional(),
  appHealthThreshold: z.coerce.number().int().positive().optional(),
  env: env.optional(),
  // Checked by run-flags (one message per bad value, as for the flags).
  appMaxConcurrency: z.union([z.number(), z.string()]).optional(),
  maxBodySize: z.union([z.number(), z.string()]).transform(String).optional(),
  readBufferSize: z.union([z.number(), z.string()]).transform(String).optional(),
  daprHTTPMaxRequestSize: z.union([z.number(), z.string()]).optional(),
  daprHTTPReadBufferSize: z.union([z.number(), z.string()]).optional(),
  apiListenAddresses: z.string().optional(),
  appChannelAddress: z.string().optional(),
  unixDomainSocket: z.string().min(1).optional(),
};

const READ = new Set(Object.keys(appFields));

const runFileSchema = z.object({
  version: z.coerce.number().refine((v) => v === 1, 'only version: 1 is supported'),
  common: z.object(appFields).partial().passthrough().optional(),
  apps: z.array(z.object(appFields).passthrough()).min(1, 'apps: list at least one app'),
});

/** One app of a Multi-App Run file, with `common` applied and paths resolved against the file's folder. */
export interface RunFileApp {
  readonly appId: string;
  readonly appDir: string;
  readonly command: readonly string[];
  readonly appPort?: number;
  readonly appProtocol?: string;
  readonly daprHttpPort?: number;
  readonly metricsPort?: number;
  readonly resourcesPath?: string;
  readonly configFile?: string;
  readonly healthCheckPath?: string;
  /** `enableAppHealthCheck: true`: periodic health checks with these settings (daprd's defaults where unset). */
  readonly healthCheck?: { readonly intervalS: number; readonly timeoutMs: number; readonly threshold: number };
  readonly env: Readonly<Record<string, string>>;
  /** `appMaxConcurrency` (undefined: no limit). */
  readonly maxConcurrency?: number;
  /** `maxBodySize` (or the older `daprHTTPMaxRequestSize`, MB) in bytes; -1: no limit. */
  readonly maxBodyBytes?: number;
  /** `readBufferSize` (or the older `daprHTTPReadBufferSize`, KB) in bytes. */
  readonly maxHeaderBytes?: number;
  /** `apiListenAddresses` (comma-separated). */
  readonly listenAddresses?: readonly string[];
  /** `appChannelAddress`. */
  readonly appChannelAddress?: string;
  /** `unixDomainSocket` (a folder, resolved against the run file's folder). */
  readonly unixDomainSocket?: string;
  /** Fields Dapr knows that Sidekick does not apply. */
  readonly ignored: readonly string[];
}

/**
 * Reads Dapr's Multi-App Run file (`dapr.yaml`; a folder means its `dapr.yaml`): `version: 1`,
 * `common` (defaults for every app) and `apps[]`. Relative paths (`appDirPath`, `resourcesPath`,
 * `configFilePath`) are resolved against the file's folder, as `dapr run -f` does; an app's `env`
 * is merged over `common.env`.
 */
export function readRunFile(path: string): { file: string; apps: RunFileApp[] } {
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) {
    const candidates = ['dapr.yaml', 'dapr.yml'].map((f) => join(file, f));
    const found = candidates.find((f) => existsSync(f));
    if (!found) throw new CliError(`${path} has no dapr.yaml: pass the run file itself (sidekick run -f path/to/dapr.yaml)`);
    file = found;
  }
  if (!existsSync(file)) throw new CliError(`run file ${path} does not exist: pass a dapr.yaml or the folder holding it`);
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  const parsed = runFileSchema.safeParse(raw);
  if (!parsed.success) throw new CliError(`${file}: ${formatIssues(parsed.error.issues)}`);
  const base = dirname(file);
  const common = parsed.data.common ?? {};
  const apps = parsed.data.apps.map((app, i): RunFileApp => {
    const where = `${file}: apps[${i}]`;
    const merged = { ...common, ...app, env: { ...(common.env ?? {}), ...(app.env ?? {}) } };
    if (!merged.appID) throw new CliError(`${where}: appID is required`);
    if (!merged.appDirPath) throw new CliError(`${where} (${merged.appID}): appDirPath is required`);
    const command = typeof merged.command === 'string' ? merged.command.split(/\s+/).filter(Boolean) : merged.command;
    if (!command || command.length === 0) throw new CliError(`${where} (${merged.appID}): command is required, e.g. command: ["python3", "app.py"]`);
    const appDir = resolve(base, merged.appDirPath);
    if (!existsSync(appDir)) throw new CliError(`${where} (${merged.appID}): appDirPath ${merged.appDirPath} does not exist (${appDir})`);
    const resources = merged.resourcesPath ?? merged.resourcesPaths?.[0];
    return {
      appId: merged.appID,
      appDir,
      command,
      appPort: merged.appPort,
      appProtocol: merged.appProtocol,
      daprHttpPort: merged.daprHTTPPort,
      metricsPort: merged.metricsPort,
      resourcesPath: resources ? resolve(base, resources) : undefined,
      configFile: merged.configFilePath ? resolve(base, merged.configFilePath) : undefined,
      healthCheckPath: merged.appHealthCheckPath,
      healthCheck: merged.enableAppHealthCheck
        ? { intervalS: merged.appHealthProbeInterval ?? 5, timeoutMs: merged.appHealthProbeTimeout ?? 500, threshold: merged.appHealthThreshold ?? 3 }
        : undefined,
      env: merged.env,
      maxConcurrency:
        merged.appMaxConcurrency !== undefined ? parseConcurrency(merged.appMaxConcurrency, `${where} (${merged.appID}): appMaxConcurrency`) : undefined,
      maxBodyBytes: bodyLimit(merged.maxBodySize, merged.daprHTTPMaxRequestSize, [
        `${where} (${merged.appID}): maxBodySize`,
        `${where} (${merged.appID}): daprHTTPMaxRequestSize`,
      ]),
      maxHeaderBytes: headerLimit(merged.readBufferSize, merged.daprHTTPReadBufferSize, [
        `${where} (${merged.appID}): readBufferSize`,
        `${where} (${merged.appID}): daprHTTPReadBufferSize`,
      ]),
      listenAddresses:
        merged.apiListenAddresses !== undefined ? parseListenAddresses(merged.apiListenAddresses, `${where} (${merged.appID}): apiListenAddresses`) : undefined,
      appChannelAddress:
        merged.appChannelAddress !== undefined ? parseChannelAddress(merged.appChannelAddress, `${where} (${merged.appID}): appChannelAddress`) : undefined,
      unixDomainSocket: merged.unixDomainSocket ? resolve(base, merged.unixDomainSocket) : undefined,
      ignored: Object.keys(app).filter((k) => !READ.has(k)),
    };
  });
  const ids = apps.map((a) => a.appId);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new CliError(`${file}: appID "${dup}" is used by two apps: app ids must be unique`);
  return { file, apps };
}
