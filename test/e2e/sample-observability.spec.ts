import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';
import { redisHostPort, requireRedis, requireZipkin, zipkinUrl } from '../support/services';
import { spanNamed, traceById, tracesSince, waitForTrace, type ZipkinSpan } from '../support/zipkin';

/**
 * samples/04-observability as a user runs it: checkout and order-processor on Redis, tracing to a
 * real Zipkin (the sample's own Configuration, pointed at the test's Zipkin). One POST /orders is
 * one trace across both apps; the Zipkin UI shows it (a screenshot taken with headless Chromium).
 * SIDEKICK_UPDATE_SCREENSHOT=1 also writes the screenshot into the sample folder (the README's image).
 */

const SAMPLE = join(ROOT, 'samples/04-observability');
const DIST = join(ROOT, 'dist/samples/04-observability/src');
const CHROMIUM = process.env['SIDEKICK_CHROMIUM'] ?? '/usr/bin/chromium';
const running: Proc[] = [];

/** The sample's resources with the test's Redis and Zipkin addresses. */
function resources(): string {
  const copy = tempDir('sidekick-observability-');
  for (const file of readdirSync(join(SAMPLE, 'components'))) {
    const text = readFileSync(join(SAMPLE, 'components', file), 'utf8')
      .replace('value: 127.0.0.1:6379', `value: ${redisHostPort()}`)
      .replace('http://127.0.0.1:9411', zipkinUrl());
    writeFileSync(join(copy, file), text);
  }
  return copy;
}

async function startSampleApp(name: string, components: string, topic: string): Promise<{ proc: Proc; appUrl: string }> {
  const dir = tempDir('sidekick-observability-app-');
  const port = await freePort();
  const apiPort = await freePort();
  const proc = startNode(name, join(DIST, `${name}.main.js`), {
    env: {
      PORT: String(port),
      SIDEKICK_HTTP_PORT: String(apiPort),
      SIDEKICK_RESOURCES_PATH: components,
      SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
      SIDEKICK_DATA_DIR: join(dir, 'data'),
      SIDEKICK_LOG_FORMAT: 'json',
      ORDERS_TOPIC: topic,
    },
  });
  running.push(proc);
  await waitHealthy(proc, `http://127.0.0.1:${apiPort}`);
  return { proc, appUrl: `http://127.0.0.1:${port}` };
}

describe('samples/04-observability: one order is one trace across checkout and order-processor in Zipkin', () => {
  let trace: ZipkinSpan[];
  let processor: Proc;
  let checkout: Proc;

  beforeAll(async () => {
    await requireZipkin();
    await requireRedis();
    await ensureBuilt([join(DIST, 'checkout.main.js')]);
    const components = resources();
    const topic = `orders-obs-${randomUUID().slice(0, 8)}`;
    processor = (await startSampleApp('order-processor', components, topic)).proc;
    const started = await startSampleApp('checkout', components, topic);
    checkout = started.proc;
    const since = Date.now();
    const res = await fetch(`${started.appUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"orderId":42}' });
    expect(res.status).toBe(201);
    await processor.waitFor('the order', () => processor.out.includes('Processed order 42'), 15_000);
    const [, traceId] = (res.headers.get('traceparent') ?? '').split('-');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    trace = await waitForTrace(
      () => traceById(traceId ?? '').catch(() => undefined),
      (t) => t.some((s) => s.name === 'process-order') && t.some((s) => s.name === 'post /orders'),
    );
    expect((await tracesSince('checkout', since, 'POST /orders')).length).toBe(1);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
  });

  it('the request, its state save and publish, the delivery, the user span and its state save form one tree', () => {
    const parentOf = (span: ZipkinSpan): ZipkinSpan | undefined => trace.find((s) => s.id === span.parentId);
    const request = spanNamed(trace, 'POST /orders', 'checkout');
    expect(request.parentId).toBeUndefined();
    expect(parentOf(spanNamed(trace, '/dapr.proto.runtime.v1.Dapr/SaveState', 'checkout'))).toBe(request);
    const publish = spanNamed(trace, '/dapr.proto.runtime.v1.Dapr/PublishEvent', 'checkout');
    expect(parentOf(publish)).toBe(request);
    const delivery = trace.find((s) => s.name.startsWith('pubsub/orders-obs-') && s.localEndpoint?.serviceName === 'order-processor');
    expect(delivery && parentOf(delivery)).toBe(publish);
    const user = spanNamed(trace, 'process-order', 'order-processor');
    expect(parentOf(user)).toBe(delivery);
    expect(user.tags).toMatchObject({ 'order.id': '42' });
    expect(parentOf(spanNamed(trace, '/dapr.proto.runtime.v1.Dapr/SaveState', 'order-processor'))).toBe(user);
  });

  it("both apps' log lines for the order carry the trace id", () => {
    const traceId = trace[0]?.traceId;
    const lineWith = (proc: Proc, text: string): Record<string, unknown> =>
      JSON.parse(proc.out.split('\n').find((l) => l.includes(text)) ?? '{}') as Record<string, unknown>;
    expect(lineWith(checkout, 'Published order 42')['trace_id']).toBe(traceId);
    expect(lineWith(processor, 'Processed order 42')['trace_id']).toBe(traceId);
  });

  it("Zipkin's UI shows the trace (a screenshot with headless Chromium)", async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const traceId = trace[0]?.traceId ?? '';
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
      await page.goto(`${zipkinUrl()}/zipkin/traces/${traceId}`, { waitUntil: 'networkidle', timeout: 30_000 });
      await page.getByText('process-order').first().waitFor({ timeout: 30_000 });
      const text = await page.locator('body').innerText();
      expect(text).toContain('checkout');
      expect(text).toContain('order-processor');
      const file = join(tempDir('sidekick-screenshot-'), 'zipkin-trace.png');
      await page.screenshot({ path: file, fullPage: true });
      const png = readFileSync(file);
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(1000); // width
      expect(statSync(file).size).toBeGreaterThan(30_000);
      if (process.env['SIDEKICK_UPDATE_SCREENSHOT'] === '1') copyFileSync(file, join(SAMPLE, 'zipkin-trace.png'));
    } finally {
      await browser.close();
    }
  }, 90_000);
});
