import type { Command } from 'commander';
import { CliError, progress } from '../shared/cli-error';
import { isAlive, runningApps } from '../shared/run-records';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('stops a running app gracefully (SIGTERM: it drains in-flight work; its sidecar too)')
    .requiredOption('-a, --app-id <id>', 'the app to stop (every instance of it)')
    .option('--timeout <seconds>', 'how long to wait for it to end', '30')
    .addHelpText('after', '\nExample:\n  $ sidekick stop --app-id order-processor')
    .action(async (options: { appId: string; timeout: string }) => {
      const timeoutMs = Number(options.timeout) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CliError(`--timeout "${options.timeout}" is not a number of seconds`);
      const apps = runningApps().filter((a) => a.appId === options.appId);
      // `sidekick run` stops its app and sidecar in order; an app started otherwise drains on SIGTERM itself.
      const pids = [...new Set(apps.map((a) => a.cliPid ?? a.pid).filter((p): p is number => p !== undefined))];
      if (pids.length === 0) throw new CliError(`no running app with id "${options.appId}": see sidekick list`);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch (err) {
          throw new CliError(`cannot signal process ${pid} of "${options.appId}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      progress(`Stopping "${options.appId}" (pid ${pids.join(', ')})...`);
      const deadline = Date.now() + timeoutMs;
      while (pids.some(isAlive)) {
        if (Date.now() > deadline)
          throw new CliError(
            `"${options.appId}" is still running ${options.timeout} s after SIGTERM (pid ${pids.filter(isAlive).join(', ')}): kill it, or wait longer with --timeout`,
          );
        await sleep(100);
      }
      process.stdout.write(`App "${options.appId}" stopped\n`);
    });
}
