import type { Command } from 'commander';
import { CliError } from '../shared/cli-error';
import { callApi, findApp } from '../shared/find-app';

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description('publishes an event through the Dapr HTTP API of a running app')
    .requiredOption('-i, --publish-app-id <id>', 'the app whose sidecar publishes')
    .requiredOption('-p, --pubsub <name>', 'the pub/sub component')
    .requiredOption('-t, --topic <topic>', 'the topic')
    .option('-d, --data <json>', 'the event data (JSON)')
    .option('-m, --metadata <json>', 'metadata as a JSON object, e.g. {"ttlInSeconds":"10"}')
    .addHelpText('after', `\nExample:\n  $ sidekick publish --publish-app-id checkout --pubsub orderpubsub --topic orders --data '{"orderId":100}'`)
    .action(async (options: { publishAppId: string; pubsub: string; topic: string; data?: string; metadata?: string }) => {
      const query = new URLSearchParams();
      if (options.metadata !== undefined) {
        let meta: unknown;
        try {
          meta = JSON.parse(options.metadata);
        } catch {
          throw new CliError(`--metadata is not JSON: give an object, e.g. '{"ttlInSeconds":"10"}'`);
        }
        if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new CliError('--metadata must be a JSON object');
        for (const [k, v] of Object.entries(meta)) query.set(`metadata.${k}`, String(v));
      }
      if (options.data !== undefined) {
        try {
          JSON.parse(options.data);
        } catch {
          throw new CliError(`--data is not JSON: quote it, e.g. --data '{"orderId":100}'`);
        }
      }
      const app = findApp(options.publishAppId);
      const qs = query.size > 0 ? `?${query.toString()}` : '';
      const res = await callApi(app, `/v1.0/publish/${encodeURIComponent(options.pubsub)}/${encodeURIComponent(options.topic)}${qs}`, {
        method: 'POST',
        body: options.data ?? '',
        headers: { 'content-type': 'application/json' },
      });
      if (!res.ok) throw new CliError(`publishing to ${options.pubsub}/${options.topic} failed: status ${res.status}: ${(await res.text()).slice(0, 500)}`);
      process.stdout.write('Event published successfully\n');
    });
}
