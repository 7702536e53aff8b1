import type { SidekickModuleOptions } from '@sidekick/core';

/**
 * The SidekickModule options of each app of this sample. The component folder is required, because
 * it decides which broker carries the orders: samples/02-pubsub/components/{redis,kafka,memory}.
 */
export function sidekickOptions(appId: string, defaultApiPort: number): SidekickModuleOptions {
  return {
    appId,
    resourcesPath: requireResourcesPath(),
    httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? defaultApiPort) },
  };
}

/** `SIDEKICK_RESOURCES_PATH`, or an error that says what to set it to. */
export function requireResourcesPath(): string {
  const resourcesPath = process.env['SIDEKICK_RESOURCES_PATH'];
  if (!resourcesPath) {
    throw new Error(
      'SIDEKICK_RESOURCES_PATH is not set: point it at the pub/sub to use, e.g. ' +
        'SIDEKICK_RESOURCES_PATH=samples/02-pubsub/components/redis (or .../kafka, or .../memory for the all-in-one app)',
    );
  }
  return resourcesPath;
}
