import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, table } from '../shared/cli-error';
import { packageRoot } from '../shared/package-root';

/** Default ports of the services scripts/services.sh knows (its env variable overrides each). */
const PORTS: Readonly<Record<string, { env: string; port: number }>> = {
  redis: { env: 'SIDEKICK_REDIS_PORT', port: 6379 },
  postgres: { env: 'SIDEKICK_POSTGRES_PORT', port: 5432 },
  kafka: { env: 'SIDEKICK_KAFKA_PORT', port: 9092 },
  zipkin: { env: 'SIDEKICK_ZIPKIN_PORT', port: 9411 },
};

/** scripts/services.sh ships in the package (package.json `files`): found next to the compiled CLI. */
function script(): string {
  const file = join(packageRoot(), 'scripts', 'services.sh');
  if (!existsSync(file)) throw new CliError(`${file} is missing: reinstall @sidekick/core (the package ships scripts/services.sh)`);
  return file;
}

function known(): string[] {
  const match = /^ALL_SERVICES=\(([^)]*)\)/m.exec(readFileSync(script(), 'utf8'));
  return (match?.[1] ?? 'redis postgres kafka').split(/\s+/).filter(Boolean);
}

export function registerServices(program: Command): void {
  const services = program
    .command('services')
    .description(
      'the local services components use (Redis, PostgreSQL, Kafka, ...), as `dapr init` sets up Redis and Zipkin: installed (apt-get, Maven Central) and started on loopback',
    )
    .addHelpText('after', '\nExamples:\n  $ sidekick services up redis\n  $ sidekick services status\n  $ sidekick services down');
  services
    .command('up')
    .description('installs what is missing and starts the services (default: all); one already answering on its port is left alone')
    .argument('[names...]', 'services to start')
    .addHelpText('after', '\nExample:\n  $ sidekick services up redis postgres')
    .action((names: string[]) => runScript('up', names));
  services
    .command('down')
    .description('stops the services `sidekick services up` started (never one it found running)')
    .argument('[names...]', 'services to stop (default: all it started)')
    .addHelpText('after', '\nExample:\n  $ sidekick services down')
    .action((names: string[]) => runScript('down', names));
  services
    .command('status')
    .description('shows which services answer on their ports')
    .option('-o, --output <format>', 'table or json', 'table')
    .addHelpText('after', '\nExample:\n  $ sidekick services status')
    .action(async (options: { output: string }) => {
      const rows = await Promise.all(
        known().map(async (name) => {
          const spec = PORTS[name];
          const port = Number(process.env[spec?.env ?? ''] || spec?.port || 0);
          return { name, port, up: port > 0 && (await answers(port)) };
        }),
      );
      if (options.output === 'json') return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      process.stdout.write(
        `${table(
          ['SERVICE', 'PORT', 'STATUS'],
          rows.map((r) => [r.name, String(r.port || ''), r.up ? 'up' : 'down']),
        )}\n`,
      );
    });
}

async function runScript(command: 'up' | 'down', names: readonly string[]): Promise<void> {
  const all = known();
  const unknown = names.filter((n) => n !== 'all' && !all.includes(n.split(':')[0] ?? n));
  if (unknown.length > 0) throw new CliError(`unknown service ${unknown.join(', ')}: known services are ${all.join(', ')}`);
  const code = await new Promise<number>((ok, fail) => {
    const child = spawn('bash', [script(), command, ...names], { stdio: 'inherit' });
    child.once('error', (err) => fail(new CliError(`could not run bash: ${err.message}`)));
    child.once('exit', (c, signal) => ok(signal ? 1 : (c ?? 1)));
  });
  if (code !== 0) throw new CliError(`services ${command} failed (exit code ${code}): see the lines above`, code);
}

function answers(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => (socket.destroy(), ok(false)));
    socket.once('connect', () => (socket.destroy(), ok(true)));
    socket.once('error', () => ok(false));
  });
}
