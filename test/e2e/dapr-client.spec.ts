import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { DaprClient, HttpMethod, type LoggerService } from '@dapr/dapr';
import { daprHttpClient } from '../support/dapr-client';
import type HTTPClient from '@dapr/dapr/implementation/Client/HTTPClient/HTTPClient';
import type { MemoryConfigurationStore } from '../../libs/memory/memory.configuration-store';
import type { StateStore } from '../../src/spi';
import { inspect, startApp, type TestApp } from '../support/app';

/**
 * The official `@dapr/dapr` JS SDK, over HTTP, used as a real client against Sidekick's Dapr HTTP API:
 * what works with daprd must work here, with no change to the calling code.
 */

@Controller()
class HelloController {
  @Post('hello')
  @HttpCode(200)
  hello(@Body() body: { name?: string }, @Headers('dapr-caller-app-id') caller: string | undefined): { greeting: string; caller: string | null } {
    return { greeting: `hello ${body.name ?? 'nobody'}`, caller: caller ?? null };
  }
}

/** Keeps the SDK's log lines (it logs, rather than throws, on some failures). */
class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  error(message: unknown): void {
    this.errors.push(String(message));
  }
  warn(): void {}
  info(): void {}
  verbose(): void {}
  debug(): void {}
}

describe('the official @dapr/dapr client (HTTP) against the Sidekick HTTP API', () => {
  let t: TestApp;
  let client: DaprClient;
  const logger = new CapturingLogger();
  const store = 'statestore';

  beforeAll(async () => {
    t = await startApp(
      {
        appId: 'daprclient',
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          { metadata: { name: 'configstore' }, spec: { type: 'configuration.in-memory', version: 'v1' } },
        ],
      },
      { controllers: [HelloController] },
    );
    client = daprHttpClient(t.apiUrl, logger);
    // The SDK's readiness probe (GET /v1.0/metadata) must succeed on the first try: it retries once a
    // second for 60 s otherwise, which would show here as a timeout.
    await client.start();
  }, 10_000);

  afterAll(async () => {
    await client?.stop();
    await t?.close();
  });

  it('starts: the readiness probe sees the sidecar at once', () => {
    expect(client.getIsInitialized()).toBe(true);
  });

  it('state.save then state.get returns the value, as stored under appid||key', async () => {
    const saved = await client.state.save(store, [
      { key: 'order', value: { orderId: 7 } },
      { key: 'greeting', value: 'hi' },
    ]);
    expect(saved).toEqual({});
    expect(await client.state.get(store, 'order')).toEqual({ orderId: 7 });
    expect(await client.state.get(store, 'greeting')).toBe('hi');
    const raw = await inspect(t).component<StateStore>(store)?.get('daprclient||order');
    expect(raw?.data.toString()).toBe('{"orderId":7}');
  });

  it('configuration: the SDK has no HTTP configuration.get (HTTPNotSupportedError); its HTTP client reads GET /configuration/{store} as from daprd', async () => {
    inspect(t).component<MemoryConfigurationStore>('configstore')?.set('greeting', 'hello', '1');
    // @dapr/dapr 3.18 implements configuration over gRPC only: over HTTP it throws before any request.
    await expect(client.configuration.get('configstore', ['greeting'])).rejects.toMatchObject({ name: 'HTTPNotSupportedError' });
    const http = client.daprClient as HTTPClient;
    expect(await http.execute('/configuration/configstore?key=greeting&key=missing', { method: 'GET' })).toEqual({
      greeting: { value: 'hello', version: '1' },
    });
    expect(await http.executeWithApiVersion('v1.0-alpha1', '/configuration/configstore?key=greeting', { method: 'GET' })).toEqual({
      greeting: { value: 'hello', version: '1' },
    });
    const subscribed = (await http.execute('/configuration/configstore/subscribe?key=greeting', { method: 'GET' })) as { id: string };
    expect(await http.execute(`/configuration/configstore/${subscribed.id}/unsubscribe`, { method: 'GET' })).toEqual({ ok: true });
    await expect(http.execute('/configuration/nope?key=a', { method: 'GET' })).rejects.toThrow(/ERR_CONFIGURATION_STORE_NOT_FOUND/);
  });

  it('state.get of a missing key gives the empty string (HTTP 204), as with daprd', async () => {
    expect(await client.state.get(store, 'no-such-key')).toBe('');
  });

  it('state.getBulk returns every key in order with data and etag, and no data for a missing key', async () => {
    await client.state.save(store, [
      { key: 'b1', value: { n: 1 } },
      { key: 'b2', value: [2] },
    ]);
    const items = (await client.state.getBulk(store, ['b2', 'missing', 'b1'])) as { key: string; data?: unknown; etag?: string }[];
    expect(items.map((i) => i.key)).toEqual(['b2', 'missing', 'b1']);
    expect(items[0]).toMatchObject({ key: 'b2', data: [2], etag: expect.stringMatching(/^\d+$/) });
    expect(items[1]).toEqual({ key: 'missing' });
    expect(items[2]).toMatchObject({ key: 'b1', data: { n: 1 } });
  });

  it('state.delete with a wrong etag fails (the SDK resolves { error } with the 409 body) and with the right etag deletes', async () => {
    await client.state.save(store, [{ key: 'del', value: 'x' }]);
    const [item] = (await client.state.getBulk(store, ['del'])) as { key: string; etag: string }[];
    const etag = item?.etag ?? '';
    expect(etag).toMatch(/^\d+$/);

    logger.errors.length = 0;
    const wrong = await client.state.delete(store, 'del', { etag: String(Number(etag) + 100) });
    // The SDK does not throw here: it resolves { error: Error(JSON of {error, error_msg, status}) } and logs it.
    expect(wrong.error).toBeInstanceOf(Error);
    const details = JSON.parse((wrong.error as Error).message) as { status: number; error_msg: string };
    expect(details.status).toBe(409);
    expect(JSON.parse(details.error_msg)).toMatchObject({ errorCode: 'ERR_STATE_DELETE' });
    expect(logger.errors.some((m) => m.includes('Error deleting state from store statestore'))).toBe(true);
    expect(await client.state.get(store, 'del')).toBe('x');

    expect(await client.state.delete(store, 'del', { etag })).toEqual({});
    expect(await client.state.get(store, 'del')).toBe('');
  });

  // With no metadata argument the SDK sends `"metadata": null` in the body, which daprd accepts.
  it('state.transaction applies an upsert and a delete together', async () => {
    await client.state.save(store, [{ key: 'tx-old', value: 'old' }]);
    await client.state.transaction(store, [
      { operation: 'upsert', request: { key: 'tx-new', value: { made: 'in a transaction' } } },
      { operation: 'delete', request: { key: 'tx-old' } },
    ]);
    expect(await client.state.get(store, 'tx-new')).toEqual({ made: 'in a transaction' });
    expect(await client.state.get(store, 'tx-old')).toBe('');
  });

  it('state.transaction with metadata passes it through', async () => {
    await client.state.transaction(store, [{ operation: 'upsert', request: { key: 'tx-meta', value: 1 } }], { note: 'x' });
    expect(await client.state.get(store, 'tx-meta')).toBe(1);
  });

  it('invoker.invoke reaches a controller of the app and returns its JSON body', async () => {
    const result = await client.invoker.invoke('daprclient', 'hello', HttpMethod.POST, { name: 'sidekick' });
    expect(result).toEqual({ greeting: 'hello sidekick', caller: 'daprclient' });
  });

  it('invoker.invoke of an unknown app id rejects with the HTTP API error', async () => {
    const err = await client.invoker.invoke('no-such-app', 'hello', HttpMethod.POST, { name: 'x' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    const details = JSON.parse(err?.message ?? '{}') as { status: number; error_msg: string };
    expect(details.status).toBe(500);
    expect(JSON.parse(details.error_msg)).toMatchObject({ errorCode: 'ERR_DIRECT_INVOKE' });
  });

  it('pubsub.publishBulk succeeds (the SDK sends entryID; daprd matches field names case-insensitively)', async () => {
    const res = await client.pubsub.publishBulk('pubsub', 'bulk-sdk', [{ entryID: 'a', event: { n: 1 }, contentType: 'application/json' }, 'plain text']);
    expect(res.failedMessages).toEqual([]);
  });

  it('pubsub.publish of a plain object succeeds', async () => {
    const res = await client.pubsub.publish('pubsub', 'sdk-topic', { n: 1 });
    expect(res.error).toBeUndefined();
  });
});
