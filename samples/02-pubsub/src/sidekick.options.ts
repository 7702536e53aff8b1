import { existsSync, readdirSync } from 'node:fs';
import type { SidekickModuleOptions } from '@sidekick/core';

/**
 * The SidekickModule options of each app of this sample. The component folder is required, because
 * it decides which broker carries the orders: samples/02-pubsub/components/{redis,kafka,memory}. In a
 * project made by `sidekick new`, `./components` holds the in-memory pub/sub and is the default.
 */
export function sidekickOptions(appId: string, defaultApiPort: number): SidekickModuleOptions {
  return {
    appId,
    resourcesPath: requireResourcesPath(),
    httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? defaultApiPort) },
  };
}

/** `SIDEKICK_RESOURCES_PATH`, else `./components` when it holds a component file, or an error that says what to set. */
export function requireResourcesPath(): string {
  const resourcesPath = process.env['SIDEKICK_RESOURCES_PATH'] || (hasYaml('components') ? 'components' : undefined);
  if (!resourcesPath) {
    throw new Error(
      'SIDEKICK_RESOURCES_PATH is not set: point it at the pub/sub to use, e.g. ' +
        'SIDEKICK_RESOURCES_PATH=samples/02-pubsub/components/redis (or .../kafka, or .../memory for the all-in-one app)',
    );
  }
  return resourcesPath;
}

function hasYaml(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).some((f) => /\.ya?ml$/i.test(f));
}
