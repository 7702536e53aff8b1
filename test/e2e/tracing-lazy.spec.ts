import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../support/app';
import { ensureBuilt, ROOT } from '../support/processes';

/**
 * The OpenTelemetry SDK is loaded only by apps that trace: without `spec.tracing` (and no OTLP
 * endpoint in the environment) none of its packages is in `require.cache`, only the small
 * `@opentelemetry/api`. Checked in a fresh Node process running the compiled package.
 */

const DIST = join(ROOT, 'dist/src/index.js');

function script(dataDir: string, config: string, work = ''): string {
  return `
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const sidekick = require(${JSON.stringify(DIST)});
class AppModule {}
Module({ imports: [sidekick.SidekickModule.forRoot({ appId: 'lazytrace', ${config} dataDir: ${JSON.stringify(dataDir)}, resourcesPath: ${JSON.stringify(dataDir)}, httpApi: { enabled: false }, nameResolution: { localRegistry: false }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } } })] })(AppModule);
(async () => {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  await app.init();
  ${work}
  const loaded = new Set();
  for (const file of Object.keys(require.cache)) {
    const m = /\\/node_modules\\/(@opentelemetry\\/[^/]+)\\//.exec(file);
    if (m) loaded.add(m[1]);
  }
  await app.close();
  process.stdout.write(JSON.stringify([...loaded].sort()));
})().catch((err) => { console.error(err); process.exit(1); });
`;
}

async function loadedOtel(config: string, env: Record<string, string> = {}, work = ''): Promise<string[]> {
  const clean = { ...process.env, ...env };
  if (!('OTEL_EXPORTER_OTLP_ENDPOINT' in env)) delete clean['OTEL_EXPORTER_OTLP_ENDPOINT'];
  delete clean['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  delete clean['SIDEKICK_CONFIG'];
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script(tempDir('sidekick-lazytrace-'), config, work)], {
    cwd: ROOT,
    timeout: 30_000,
    env: clean,
  });
  return JSON.parse(stdout) as string[];
}

describe('the OpenTelemetry SDK is loaded only when the app traces', () => {
  beforeAll(() => ensureBuilt([DIST]), 180_000);

  it('an app without spec.tracing loads only @opentelemetry/api', async () => {
    expect(await loadedOtel('')).toEqual(['@opentelemetry/api']);
  }, 40_000);

  it('spec.tracing with a Zipkin endpoint loads the SDK and the Zipkin exporter, not the OTLP one', async () => {
    const loaded = await loadedOtel(`config: { tracing: { samplingRate: '1', zipkin: { endpointAddress: 'http://127.0.0.1:9/api/v2/spans' } } },`);
    expect(loaded).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-base', '@opentelemetry/context-async-hooks', '@opentelemetry/exporter-zipkin']));
    expect(loaded).not.toContain('@opentelemetry/exporter-trace-otlp-http');
  }, 40_000);

  it('OTEL_EXPORTER_OTLP_ENDPOINT alone turns tracing on with the OTLP/HTTP exporter, as daprd', async () => {
    const loaded = await loadedOtel('', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(loaded).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http']));
    expect(loaded).not.toContain('@opentelemetry/exporter-zipkin');
  }, 40_000);
});

describe('spec.tracing.otel (OTLP over HTTP), in a plain Node process', () => {
  // Not inside Jest's VM: the OTLP exporter loads its HTTP transport with a dynamic import(), which Jest's sandbox refuses.
  beforeAll(() => ensureBuilt([DIST]), 180_000);

  it('posts the spans as OTLP JSON to {endpointAddress}/v1/traces, flushed when the app closes', async () => {
    const received: { path: string; type: string; body: string }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: String(req.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const config = `config: { tracing: { samplingRate: '1', otel: { endpointAddress: '127.0.0.1:${port}', isSecure: false, protocol: 'http' } } },`;
      await loadedOtel(config, {}, `await app.get(sidekick.SidekickClient).state('statestore').get('k');`);
      const posted = received.find((r) => r.path === '/v1/traces');
      expect(posted?.type).toContain('application/json');
      expect(posted?.body).toContain('"lazytrace"');
      expect(posted?.body).toContain('/dapr.proto.runtime.v1.Dapr/GetState');
    } finally {
      server.close();
    }
  }, 40_000);
});
