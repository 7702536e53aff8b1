import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../shared/cli-error';
import { callApi, findApp } from '../shared/find-app';

const VERBS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

export function registerInvoke(program: Command): void {
  program
    .command('invoke')
    .description("calls a method of a running app through its Dapr HTTP API (service invocation); prints the app's answer")
    .requiredOption('-a, --app-id <id>', 'the app to invoke')
    .requiredOption('-m, --method <method>', 'the method (the route on the app), e.g. neworder or orders/1')
    .option('-d, --data <json>', 'the request body (JSON)')
    .option('--data-file <file>', 'a file holding the request body')
    .option('-v, --verb <verb>', 'the HTTP verb', 'POST')
    .addHelpText(
      'after',
      `\nExamples:\n  $ sidekick invoke --app-id nodeapp --method neworder --data '{"data":{"orderId":1}}'\n  $ sidekick invoke --app-id nodeapp --method order --verb GET`,
    )
    .action(async (options: { appId: string; method: string; data?: string; dataFile?: string; verb: string }) => {
      const verb = options.verb.toUpperCase();
      if (!VERBS.includes(verb)) throw new CliError(`--verb "${options.verb}" is not one of ${VERBS.join(', ')}`);
      if (options.data !== undefined && options.dataFile !== undefined) throw new CliError('give --data or --data-file, not both');
      const body = options.dataFile !== undefined ? readData(options.dataFile) : options.data;
      const app = findApp(options.appId);
      const method = options.method.replace(/^\/+/, '');
      const res = await callApi(app, `/v1.0/invoke/${encodeURIComponent(options.appId)}/method/${method}`, {
        method: verb,
        body: body !== undefined && verb !== 'GET' && verb !== 'HEAD' ? body : undefined,
        headers: body !== undefined ? { 'content-type': 'application/json' } : {},
      });
      const text = await res.text();
      if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      if (!res.ok) throw new CliError(`invoking ${options.appId}/${method} failed: status ${res.status}`);
      process.stderr.write('App invoked successfully\n');
    });
}

function readData(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --data-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
