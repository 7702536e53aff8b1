import type { Command } from 'commander';
import { stringify } from 'yaml';
import { CliError, table } from '../shared/cli-error';
import { callApi, findApp } from '../shared/find-app';
import { runningApps } from '../shared/run-records';

interface ComponentRow {
  appId: string;
  name: string;
  type: string;
  version: string;
  capabilities: string[];
}

export function registerComponents(program: Command): void {
  program
    .command('components')
    .description('lists the components loaded by running apps (from their GET /v1.0/metadata)')
    .option('-a, --app-id <id>', 'only this app')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .addHelpText('after', '\nExamples:\n  $ sidekick components\n  $ sidekick components --app-id checkout --output json')
    .action(async (options: { appId?: string; output: string }) => {
      if (!['table', 'json', 'yaml'].includes(options.output)) throw new CliError(`--output "${options.output}" is not one of table, json, yaml`);
      const apps = options.appId ? [findApp(options.appId)] : runningApps().filter((a): a is typeof a & { httpApiUrl: string } => !!a.httpApiUrl);
      const rows: ComponentRow[] = [];
      for (const app of apps) {
        const res = await callApi(app, '/v1.0/metadata');
        if (!res.ok) throw new CliError(`GET /v1.0/metadata of "${app.appId}" answered ${res.status}`);
        const meta = (await res.json()) as { components?: { name: string; type: string; version?: string; capabilities?: string[] }[] };
        for (const c of meta.components ?? [])
          rows.push({ appId: app.appId, name: c.name, type: c.type, version: c.version ?? '', capabilities: c.capabilities ?? [] });
      }
      if (options.output === 'json') return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      if (options.output === 'yaml') return void process.stdout.write(stringify(rows));
      if (rows.length === 0) return void process.stdout.write('No components: no Sidekick app is running (sidekick list).\n');
      process.stdout.write(
        `${table(
          ['APP ID', 'NAME', 'TYPE', 'VERSION', 'CAPABILITIES'],
          rows.map((r) => [r.appId, r.name, r.type, r.version, r.capabilities.join(',')]),
        )}\n`,
      );
    });
}
