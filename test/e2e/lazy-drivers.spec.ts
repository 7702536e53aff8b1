import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../support/app';
import { ensureBuilt, ROOT } from '../support/processes';

/**
 * An app pays for a driver only when it configures a component that needs it: on the embedded
 * defaults (SQLite state, in-memory pub/sub, no routing rules) none of kafkajs, pg, ioredis, undici
 * or the CEL library is loaded (together about 0.5 s of start-up and 50 MB). Checked in a fresh
 * Node process running the compiled package, as an app would load it.
 */

const DIST = join(ROOT, 'dist/src/index.js');
// prom-client too: metrics are on by default, but prom-client is loaded at the first scrape of /metrics.
const LAZY = ['kafkajs', 'pg', 'ioredis', 'undici', '@bufbuild/cel', 'prom-client'];

/** Starts a Nest application context with SidekickModule (and `setup`), then prints the lazy drivers that were loaded. */
function script(dataDir: string, setup: string): string {
  return `
require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const sidekick = require(${JSON.stringify(DIST)});
${setup}
class AppModule {}
Module({ imports: [sidekick.SidekickModule.forRoot({ appId: 'lazy', dataDir: ${JSON.stringify(dataDir)}, resourcesPath: ${JSON.stringify(dataDir)}, httpApi: { enabled: false }, nameResolution: { localRegistry: false }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } } })], providers: typeof providers === 'undefined' ? [] : providers })(AppModule);
(async () => {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  await app.init();
  const lazy = ${JSON.stringify(LAZY)};
  const loaded = new Set();
  for (const file of Object.keys(require.cache)) {
    const name = lazy.find((n) => file.includes('/node_modules/' + n + '/'));
    if (name) loaded.add(name);
  }
  await app.close();
  process.stdout.write(JSON.stringify([...loaded].sort()));
})().catch((err) => { console.error(err); process.exit(1); });
`;
}

async function loadedDrivers(setup = ''): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script(tempDir('sidekick-lazy-'), setup)], { cwd: ROOT, timeout: 30_000 });
  return JSON.parse(stdout) as string[];
}

describe('drivers are loaded only by the components that use them', () => {
  beforeAll(() => ensureBuilt([DIST]), 180_000);

  it('an app on the embedded defaults loads none of kafkajs, pg, ioredis, undici, the CEL library or prom-client', async () => {
    expect(await loadedDrivers()).toEqual([]);
  }, 40_000);

  it('a subscription with a routing rule loads the CEL library, and nothing else', async () => {
    const setup = `
class Handlers { onBig() {} onAny() {} }
Injectable()(Handlers);
sidekick.subscribe(Handlers, 'onBig', { pubsub: 'pubsub', topic: 'orders', rules: [{ match: 'event.data.total > 100' }] });
sidekick.subscribe(Handlers, 'onAny', { pubsub: 'pubsub', topic: 'orders' });
const providers = [Handlers];`;
    expect(await loadedDrivers(setup)).toEqual(['@bufbuild/cel']);
  }, 40_000);
});
