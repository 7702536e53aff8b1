import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../shared/cli-error';
import { isAlive, latestLog, readRecords } from '../shared/run-records';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('prints the output of an app started with `sidekick run` (its latest run, running or ended)')
    .requiredOption('-a, --app-id <id>', 'the app')
    .option('-f, --follow', 'keep printing new output until the app ends (or Ctrl-C)')
    .option('--sidecar', "the sidecar's log instead of the app's")
    .addHelpText('after', '\nExamples:\n  $ sidekick logs --app-id order-processor\n  $ sidekick logs --app-id order-processor --follow')
    .action(async (options: { appId: string; follow?: boolean; sidecar?: boolean }) => {
      const appLog = latestLog(options.appId);
      if (!appLog) throw new CliError(`no logs for app id "${options.appId}": logs are kept for apps started with sidekick run (see sidekick list)`);
      const file = options.sidecar ? appLog.replace(/\.log$/, '.sidecar.log') : appLog;
      const cliPid = Number(/\.(\d+)\.log$/.exec(appLog)?.[1]);
      let offset = 0;
      const drain = (): void => {
        let size: number;
        try {
          size = statSync(file).size;
        } catch {
          if (options.sidecar) throw new CliError(`"${options.appId}" ran without a sidecar: no sidecar log`);
          return;
        }
        if (size <= offset) return;
        const fd = openSync(file, 'r');
        try {
          const buf = Buffer.alloc(size - offset);
          const n = readSync(fd, buf, 0, buf.length, offset);
          offset += n;
          process.stdout.write(buf.subarray(0, n));
        } finally {
          closeSync(fd);
        }
      };
      drain();
      if (!options.follow) return;
      let stopped = false;
      process.once('SIGINT', () => (stopped = true));
      while (!stopped && (isAlive(cliPid) || readRecords().some((r) => r.appId === options.appId && r.cliPid === cliPid))) {
        await sleep(200);
        drain();
      }
      drain();
    });
}
