import type { Command } from 'commander';
import { stringify } from 'yaml';
import { age, CliError, table } from '../shared/cli-error';
import { runningApps } from '../shared/run-records';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('lists the Sidekick apps running on this machine (the local registry and the apps `sidekick run` started)')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .addHelpText('after', '\nExamples:\n  $ sidekick list\n  $ sidekick list --output json')
    .action((options: { output: string }) => {
      const apps = runningApps().map((a) => ({
        appId: a.appId,
        httpPort: a.httpPort ?? null,
        appPort: a.appPort ?? null,
        pid: a.pid ?? null,
        cliPid: a.cliPid ?? null,
        age: a.startedAt ? age(a.startedAt) : '',
        created: a.startedAt ?? null,
        command: a.command ?? '',
      }));
      if (options.output === 'json') return void process.stdout.write(`${JSON.stringify(apps, null, 2)}\n`);
      if (options.output === 'yaml') return void process.stdout.write(stringify(apps));
      if (options.output !== 'table') throw new CliError(`--output "${options.output}" is not one of table, json, yaml`);
      if (apps.length === 0) return void process.stdout.write('No Sidekick apps are running. Start one with: sidekick run --app-id myapp -- <command>\n');
      const rows = apps.map((a) => [a.appId, String(a.httpPort ?? ''), String(a.appPort ?? ''), String(a.pid ?? ''), String(a.cliPid ?? ''), a.age, a.command]);
      process.stdout.write(`${table(['APP ID', 'HTTP PORT', 'APP PORT', 'PID', 'CLI PID', 'AGE', 'COMMAND'], rows)}\n`);
    });
}
