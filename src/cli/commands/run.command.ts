import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isValidAppId, APP_ID_RULE } from '../../runtime/blocks/invoke/app-id';
import { apiUrl, type AppHealthCheckSpec, AppRun, type AppSpec, type RunEnd } from '../run/app-run';
import { readRunFile } from '../run/run-file';
import { bodyLimit, headerLimit, parseChannelAddress, parseConcurrency, parseListenAddresses, socketPathFor } from '../run/run-flags';
import { CliError, portOption } from '../shared/cli-error';

interface RunOptions {
  appId?: string;
  appPort?: string;
  appProtocol?: string;
  resourcesPath?: string;
  componentsPath?: string;
  config?: string;
  daprHttpPort?: string;
  appHealthCheckPath?: string;
  runFile?: string;
  sidekick?: boolean;
  sidecar?: boolean;
  logLevel?: string;
  daprGrpcPort?: string;
  metricsPort?: string;
  enableAppHealthCheck?: boolean;
  appHealthProbeInterval?: string;
  appHealthProbeTimeout?: string;
  appHealthThreshold?: string;
  appMaxConcurrency?: string;
  maxBodySize?: string;
  daprHttpMaxRequestSize?: string;
  readBufferSize?: string;
  daprHttpReadBufferSize?: string;
  daprListenAddresses?: string;
  appChannelAddress?: string;
  unixDomainSocket?: string;
  placementHostAddress?: string;
  enableApiLogging?: boolean;
}

/** Dapr CLI flags accepted so that `dapr run` command lines work, but not applied (a warning says so). */
const IGNORED: readonly (keyof RunOptions)[] = ['daprGrpcPort', 'placementHostAddress', 'enableApiLogging'];

export function registerRun(program: Command): void {
  program
    .command('run')
    .summary('run an app with Sidekick (a Sidekick app directly, any other app with a Sidekick sidecar)')
    .description(
      'Runs an app as `dapr run` does. A Sidekick app (its package.json depends on @sidekick/core, or --sidekick) is started ' +
        'with the settings as environment. Any other app (Python, Express, ...) gets the Sidekick runtime as a sidecar in its own ' +
        'process: the Dapr HTTP API on --dapr-http-port (DAPR_HTTP_PORT for the app), subscriptions read from GET /dapr/subscribe, ' +
        'events and input bindings POSTed to the app, invocations forwarded to it. Ctrl-C stops both.',
    )
    .option('-a, --app-id <id>', 'the app id')
    .option('-p, --app-port <port>', 'the port the app listens on (events, bindings and invocations go there)')
    .option('-P, --app-protocol <protocol>', 'the app protocol (only http)', 'http')
    .option('-d, --resources-path <dir>', "folder of component and subscription YAML (default: the app folder's ./components)")
    .option('--components-path <dir>', 'deprecated Dapr name of --resources-path')
    .option('-c, --config <file>', 'a Dapr Configuration file (SIDEKICK_CONFIG for the app or its sidecar)')
    .option('-H, --dapr-http-port <port>', 'the port of the Dapr HTTP API (default: a free port)')
    .option(
      '--app-health-check-path <path>',
      'a path that answers 2xx once the app is ready; delivery starts then (default /healthz with --enable-app-health-check)',
    )
    .option(
      '--enable-app-health-check',
      "probe the app's health path periodically; while it fails, pub/sub and input bindings pause and invocations answer 500",
    )
    .option('--app-health-probe-interval <seconds>', 'seconds between two health probes (default 5)')
    .option('--app-health-probe-timeout <ms>', 'milliseconds a health probe may take (default 500)')
    .option('--app-health-threshold <n>', 'failed probes in a row that make the app unhealthy (default 3)')
    .option('-f, --run-file <path>', 'a Multi-App Run file (dapr.yaml) or the folder holding it')
    .option('--sidekick', 'the command is a Sidekick app: no sidecar')
    .option('--sidecar', 'run a sidecar even if the folder looks like a Sidekick app')
    .option('--log-level <level>', "the sidecar's log level (debug, info, warn, error)")
    .option('-G, --dapr-grpc-port <port>', 'not supported (no gRPC API yet): ignored')
    .option('-M, --metrics-port <port>', "the port of the sidecar's Prometheus /metrics (default 9090, as daprd)")
    .option(
      '--app-max-concurrency <n>',
      'at most n requests from the sidecar to the app at a time (invocations, events, bindings, actor calls); the rest wait (default -1: no limit)',
    )
    .option(
      '--max-body-size <size>',
      'largest request body the Dapr HTTP API accepts, e.g. 16Mi, 512Ki, 8M or bytes; larger gets 413 (default 4Mi; -1: no limit)',
    )
    .option('--dapr-http-max-request-size <MB>', 'deprecated Dapr form of --max-body-size, in MB (default 4)')
    .option('--read-buffer-size <size>', "largest request head (headers) the Dapr HTTP API accepts, e.g. 4Ki, 64Ki; larger gets 431 (default: 16Ki, Node's)")
    .option('--dapr-http-read-buffer-size <KB>', 'deprecated Dapr form of --read-buffer-size, in KB')
    .option(
      '--dapr-listen-addresses <addresses>',
      'the address(es) the Dapr HTTP API binds, comma-separated, e.g. 0.0.0.0 or 127.0.0.1,::1 (default 127.0.0.1: this machine only)',
    )
    .option(
      '-u, --unix-domain-socket <dir>',
      'serve the Dapr HTTP API on the socket file <dir>/dapr-<app id>-http.socket instead of a TCP port (the app gets its path as DAPR_HTTP_SOCKET)',
    )
    .option('--app-channel-address <host>', 'the host the app is reached on (default 127.0.0.1); the app gets it as APP_CHANNEL_ADDRESS')
    .option('--placement-host-address <address>', 'not supported: ignored')
    .option('--enable-api-logging', 'not supported: ignored')
    .argument('[command...]', "the app's command, after --")
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Examples:
  $ sidekick run --app-id order-processor --app-port 6001 --resources-path ../components -- python3 app.py
  $ sidekick run --app-id checkout --dapr-http-port 3500 -- node app.js
  $ sidekick run --app-id worker --app-port 6001 --app-max-concurrency 3 -- python3 app.py   # 3 requests at a time
  $ sidekick run --app-id upload --app-port 6002 --max-body-size 16Mi --read-buffer-size 16Ki -- node app.js
  $ sidekick run --app-id web --app-port 6003 --dapr-listen-addresses 0.0.0.0 -- node app.js  # API on every interface: set DAPR_API_TOKEN
  $ sidekick run --app-id uds --app-port 6004 -u /tmp -- node app.js   # API on /tmp/dapr-uds-http.socket
  $ sidekick run --app-id nodeapp -- node dist/main.js        # a Sidekick app: no sidecar
  $ sidekick run -f .                                         # every app of ./dapr.yaml`,
    )
    .action(async (command: string[], options: RunOptions) => {
      const code = options.runFile ? await runFile(options.runFile, command) : await runOne(options, command);
      process.exitCode = code;
    });
}

async function runOne(options: RunOptions, command: readonly string[]): Promise<number> {
  if (command.length === 0) throw new CliError('no command to run: put it after --, e.g. sidekick run --app-id myapp -- python3 app.py');
  if (!options.appId) throw new CliError('--app-id is required: sidekick run --app-id myapp -- <command>');
  for (const name of IGNORED) if (options[name] !== undefined) warn(`--${kebab(name)} is not supported by Sidekick: ignored`);
  const cwd = process.cwd();
  const configFile = options.config ? checkConfig(resolve(options.config)) : undefined;
  const spec = await buildSpec({
    appId: options.appId,
    cwd,
    command,
    appPort: options.appPort ? portOption(options.appPort, '--app-port') : undefined,
    httpPort: options.daprHttpPort ? portOption(options.daprHttpPort, '--dapr-http-port') : undefined,
    metricsPort: options.metricsPort ? portOption(options.metricsPort, '--metrics-port') : undefined,
    appProtocol: options.appProtocol,
    resourcesPath: options.resourcesPath ?? options.componentsPath,
    healthCheckPath: options.appHealthCheckPath,
    healthCheck: healthCheckOptions(options),
    configFile,
    forced: options.sidekick ? 'sidekick' : options.sidecar ? 'sidecar' : undefined,
    maxConcurrency: options.appMaxConcurrency !== undefined ? parseConcurrency(options.appMaxConcurrency) : undefined,
    maxBodyBytes: bodyLimit(options.maxBodySize, options.daprHttpMaxRequestSize),
    maxHeaderBytes: headerLimit(options.readBufferSize, options.daprHttpReadBufferSize),
    listenAddresses: options.daprListenAddresses !== undefined ? parseListenAddresses(options.daprListenAddresses) : undefined,
    appChannelAddress: options.appChannelAddress !== undefined ? parseChannelAddress(options.appChannelAddress) : undefined,
    unixDomainSocket: options.unixDomainSocket,
  });
  return supervise([spec], false, options.logLevel);
}

async function runFile(path: string, command: readonly string[]): Promise<number> {
  if (command.length > 0) throw new CliError("sidekick run -f takes no command: each app's command is in the run file");
  const { file, apps } = readRunFile(path);
  process.stdout.write(`Starting ${apps.length} app(s) from ${file}\n`);
  const specs: AppSpec[] = [];
  for (const app of apps) {
    if (app.ignored.length > 0) warn(`${app.appId}: ${app.ignored.join(', ')} not applied by Sidekick: ignored`);
    specs.push(
      await buildSpec({
        appId: app.appId,
        cwd: app.appDir,
        command: app.command,
        appPort: app.appPort,
        httpPort: app.daprHttpPort,
        metricsPort: app.metricsPort,
        appProtocol: app.appProtocol,
        resourcesPath: app.resourcesPath,
        healthCheckPath: app.healthCheckPath,
        healthCheck: app.healthCheck,
        configFile: app.configFile ? checkConfig(app.configFile) : undefined,
        env: app.env,
        taken: specs.map((s) => s.httpPort),
        maxConcurrency: app.maxConcurrency,
        maxBodyBytes: app.maxBodyBytes,
        maxHeaderBytes: app.maxHeaderBytes,
        listenAddresses: app.listenAddresses,
        appChannelAddress: app.appChannelAddress,
        unixDomainSocket: app.unixDomainSocket,
      }),
    );
  }
  return supervise(specs, true);
}

interface SpecInput {
  appId: string;
  cwd: string;
  command: readonly string[];
  appPort?: number;
  httpPort?: number;
  metricsPort?: number;
  appProtocol?: string;
  resourcesPath?: string;
  healthCheckPath?: string;
  healthCheck?: AppHealthCheckSpec;
  configFile?: string;
  env?: Readonly<Record<string, string>>;
  forced?: 'sidekick' | 'sidecar';
  taken?: readonly number[];
  maxConcurrency?: number;
  maxBodyBytes?: number;
  maxHeaderBytes?: number;
  listenAddresses?: readonly string[];
  appChannelAddress?: string;
  unixDomainSocket?: string;
}

async function buildSpec(input: SpecInput): Promise<AppSpec> {
  if (!isValidAppId(input.appId)) throw new CliError(`app id "${input.appId}" is invalid: use ${APP_ID_RULE}`);
  if (input.appProtocol && input.appProtocol !== 'http') {
    throw new CliError(`app protocol "${input.appProtocol}" is not supported: Sidekick talks to apps over http (use --app-protocol http)`);
  }
  let resourcesPath: string | undefined;
  if (input.resourcesPath) {
    resourcesPath = resolve(input.cwd, input.resourcesPath);
    if (!existsSync(resourcesPath))
      throw new CliError(`resources path ${input.resourcesPath} does not exist (${resourcesPath}): create it or fix --resources-path`);
  }
  const mode = input.forced ?? (isSidekickApp(input.cwd) ? 'sidekick' : 'sidecar');
  if (mode === 'sidekick' && input.healthCheck)
    warn(`${input.appId}: app health checks watch an app behind a sidecar; a Sidekick app runs the blocks in-process: ignored`);
  else if (input.healthCheck && input.appPort === undefined) warn(`${input.appId}: app health checks need the app's port (--app-port): ignored`);
  if (mode === 'sidekick') {
    // A Sidekick app runs its handlers in-process: no sidecar-to-app hop to limit or to address.
    if (input.maxConcurrency !== undefined)
      warn(`${input.appId}: --app-max-concurrency limits a sidecar's requests to its app; a Sidekick app runs its handlers in-process: ignored`);
    if (input.appChannelAddress !== undefined)
      warn(`${input.appId}: --app-channel-address is where a sidecar reaches its app; a Sidekick app has no sidecar: ignored`);
  }
  const socketPath = input.unixDomainSocket !== undefined ? socketPathFor(input.unixDomainSocket, input.cwd, input.appId) : undefined;
  if (socketPath && (input.listenAddresses || input.httpPort !== undefined))
    warn(
      `${input.appId}: with --unix-domain-socket the Dapr HTTP API is served on the socket only (as daprd): --dapr-listen-addresses and --dapr-http-port ignored`,
    );
  let httpPort = input.httpPort;
  while (httpPort === undefined || input.taken?.includes(httpPort)) httpPort = await freePort();
  return {
    appId: input.appId,
    mode,
    command: input.command,
    cwd: input.cwd,
    httpPort,
    appPort: input.appPort,
    resourcesPath,
    healthCheckPath: input.healthCheckPath,
    healthCheck: input.healthCheck,
    metricsPort: input.metricsPort,
    configFile: input.configFile,
    env: input.env,
    maxConcurrency: mode === 'sidecar' ? input.maxConcurrency : undefined,
    maxBodyBytes: input.maxBodyBytes,
    maxHeaderBytes: input.maxHeaderBytes,
    listenAddresses: input.listenAddresses,
    appChannelAddress: mode === 'sidecar' ? input.appChannelAddress : undefined,
    socketPath,
  };
}

/** A Sidekick app: the package.json of its folder lists @sidekick/core (README, "CLI"). */
export function isSidekickApp(dir: string): boolean {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string> | undefined>;
    return ['dependencies', 'devDependencies'].some((field) => pkg[field]?.['@sidekick/core'] !== undefined);
  } catch {
    return false;
  }
}

async function supervise(specs: readonly AppSpec[], multi: boolean, logLevel?: string): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (logLevel) env['SIDEKICK_LOG_LEVEL'] = logLevel;
  const runs: AppRun[] = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(runs.map((r) => r.stop()));
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    process.stdout.write(`${signal} received: stopping ${runs.map((r) => r.spec.appId).join(', ')}\n`);
    stopAll().catch((err: unknown) => process.stderr.write(`error: stopping failed: ${err instanceof Error ? err.message : String(err)}\n`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const spec of specs) {
      const how =
        spec.mode === 'sidecar'
          ? `with a Sidekick sidecar: Dapr HTTP API on ${apiUrl(spec)}${spec.appPort ? `, app port ${spec.appPort}` : ', no app port'}`
          : `as a Sidekick app (its package.json depends on @sidekick/core): Dapr HTTP API on ${apiUrl(spec)}`;
      process.stdout.write(`Starting "${spec.appId}" ${how}\n`);
      const prefix = multi ? `== APP - ${spec.appId} == ` : '== APP == ';
      const run = new AppRun(spec, { app: prefix, sidecar: '' }, env);
      runs.push(run);
      await run.start();
      if (stopping) break;
    }
    if (!stopping) process.stdout.write(`You're up and running! ${multi ? "The apps'" : "The app's"} output follows; Ctrl-C stops ${multi ? 'them' : 'it'}.\n`);
  } catch (err) {
    await stopAll();
    throw err;
  }
  const ends: RunEnd[] = await Promise.all(
    runs.map((r) =>
      r.done.then((end) => {
        process.stdout.write(`"${r.spec.appId}" stopped: ${end.reason}\n`);
        return end;
      }),
    ),
  );
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return stopping ? 0 : Math.max(...ends.map((e) => e.code));
}

/** `--enable-app-health-check` and its settings (daprd's defaults); the settings alone do nothing, as with daprd (a warning says so). */
function healthCheckOptions(options: RunOptions): AppHealthCheckSpec | undefined {
  const given = {
    appHealthProbeInterval: options.appHealthProbeInterval,
    appHealthProbeTimeout: options.appHealthProbeTimeout,
    appHealthThreshold: options.appHealthThreshold,
  };
  if (!options.enableAppHealthCheck) {
    for (const [name, value] of Object.entries(given)) if (value !== undefined) warn(`--${kebab(name)} has no effect without --enable-app-health-check`);
    return undefined;
  }
  const positive = (value: string | undefined, flag: string, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} "${value}" is not a positive whole number`);
    return n;
  };
  return {
    intervalS: positive(options.appHealthProbeInterval, '--app-health-probe-interval', 5),
    timeoutMs: positive(options.appHealthProbeTimeout, '--app-health-probe-timeout', 500),
    threshold: positive(options.appHealthThreshold, '--app-health-threshold', 3),
  };
}

/** The Configuration file must exist; the runtime reads and validates it (SIDEKICK_CONFIG). */
function checkConfig(file: string): string {
  if (!existsSync(file)) throw new CliError(`configuration file ${file} does not exist: fix --config (or configFilePath)`);
  return file;
}

function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}
