import { spawn } from 'node:child_process';
import { openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { kafkaBrokers } from './services';

/**
 * Restarts the local Kafka broker (the one scripts/services.sh started) in place, for broker-restart
 * tests: SIGTERM (a controlled shutdown), then the same command line again, keeping its log dir
 * (topics and committed offsets survive, as on a real restart; `services.sh down/up` would format a
 * fresh one). The pid file scripts/services.sh keeps is rewritten, so `services.sh down` still
 * stops it. Always leaves a broker running: the restart happens even if `whileDown` throws.
 */
export async function restartKafkaBroker(whileDown: () => Promise<void> = async () => undefined, options: RestartOptions = {}): Promise<void> {
  const port = options.port ?? Number(kafkaBrokers().split(',')[0]?.split(':')[1] ?? '9092');
  const broker = findBroker(port);
  process.kill(broker.pid, 'SIGTERM');
  try {
    await waitUntil(() => !alive(broker.pid), 60_000, `the broker (pid ${broker.pid}) to stop`);
    if (options.properties) {
      const file = join(broker.base, 'server.properties');
      writeFileSync(file, options.properties(readFileSync(file, 'utf8')));
    }
    await whileDown();
  } finally {
    if (!alive(broker.pid)) await start(broker, port);
  }
}

export interface RestartOptions {
  /** The broker's port (default: the first of kafkaBrokers()). Tests restarting a broker use one of their own. */
  readonly port?: number;
  /** Rewrites its server.properties while it is down (the restarted broker runs with the result). */
  readonly properties?: (text: string) => string;
}

interface Broker {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly base: string;
}

/** The JVM running `kafka.Kafka <base>/server.properties` whose listener is `port`. */
function findBroker(port: number): Broker {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
        .split('\0')
        .filter((arg) => arg !== '');
    } catch {
      continue;
    }
    const main = argv.indexOf('kafka.Kafka');
    const properties = main >= 0 ? argv[main + 1] : undefined;
    if (!properties) continue;
    const config = readFileSync(properties, 'utf8');
    if (new RegExp(`^listeners=PLAINTEXT://[^:,]+:${port}\\b`, 'm').test(config)) return { pid: Number(entry), argv, base: dirname(properties) };
  }
  throw new Error(`no Kafka broker started by scripts/services.sh listens on port ${port}: cannot restart it`);
}

async function start(broker: Broker, port: number): Promise<void> {
  const [command, ...args] = broker.argv;
  if (!command) throw new Error('empty broker command line');
  const log = openSync(join(broker.base, 'kafka.log'), 'a');
  // Its own session, as scripts/services.sh starts it: signals aimed at the test run do not reach it.
  const child = spawn(command, args, { cwd: '/', detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (child.pid === undefined) throw new Error('the broker did not start');
  writeFileSync(join(broker.base, 'pid'), `${child.pid}\n`);
  const { Kafka, logLevel } = await import('kafkajs');
  await waitUntil(
    async () => {
      const admin = new Kafka({ brokers: [`127.0.0.1:${port}`], clientId: 'sidekick-test-restart', connectionTimeout: 1000, logLevel: logLevel.NOTHING }).admin(
        { retry: { retries: 0 } },
      );
      try {
        await admin.connect();
        await admin.describeCluster();
        return true;
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    90_000,
    'the restarted broker to answer',
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
