#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerComponents } from './commands/components.command';
import { registerInvoke } from './commands/invoke.command';
import { registerList } from './commands/list.command';
import { registerLogs } from './commands/logs.command';
import { registerNew } from './commands/new.command';
import { registerPublish } from './commands/publish.command';
import { registerRun } from './commands/run.command';
import { registerServices } from './commands/services.command';
import { registerStop } from './commands/stop.command';
import { CliError } from './shared/cli-error';
import { packageVersion } from './shared/package-root';

/** `sidekick`: the command line of Sidekick, shaped after the Dapr CLI (README, "CLI"). */
export function buildProgram(): Command {
  const program = new Command('sidekick')
    .description('Sidekick: every Dapr building block in-process for Nest apps, and a sidecar for any other app.')
    .version(packageVersion(), '-v, --version')
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage and examples)')
    .addHelpText(
      'after',
      `
Examples:
  $ sidekick new my-app --sample 02-pubsub
  $ sidekick run --app-id orders --app-port 3000 -- python3 app.py
  $ sidekick run -f .
  $ sidekick list
  $ sidekick invoke --app-id orders --method neworder --data '{"orderId":1}'`,
    );
  registerNew(program);
  registerRun(program);
  registerList(program);
  registerInvoke(program);
  registerPublish(program);
  registerComponents(program);
  registerStop(program);
  registerLogs(program);
  registerServices(program);
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its message (or the help / version) already
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof CliError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}

if (require.main === module) void main();
