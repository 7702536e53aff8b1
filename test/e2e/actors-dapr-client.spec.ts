import { ActorId, ActorProxyBuilder, DaprClient } from '@dapr/dapr';
import { daprHttpClient } from '../support/dapr-client';
import { AbstractActor, Actor } from '../../src';
import { startApp, type TestApp } from '../support/app';

/**
 * The official `@dapr/dapr` SDK's client side (ActorProxyBuilder over HTTP) calling a Sidekick actor:
 * the SDK names the type by the class name and sends the arguments as a JSON array.
 */
@Actor()
class CounterActor extends AbstractActor {
  async add(by: number, label: string): Promise<{ count: number; label: string }> {
    const count = ((await this.state.get<number>('count')) ?? 0) + by;
    await this.state.set('count', count);
    return { count, label };
  }

  async count(): Promise<number> {
    return (await this.state.get<number>('count')) ?? 0;
  }

  async fail(): Promise<void> {
    throw new Error('no');
  }
}

/** What the SDK's callers write: an interface of the actor's methods. */
interface CounterApi {
  add(by: number, label: string): Promise<{ count: number; label: string }>;
  count(): Promise<number>;
  fail(): Promise<void>;
}

describe('@dapr/dapr ActorProxyBuilder (HTTP) against Sidekick actors', () => {
  let t: TestApp;
  let client: DaprClient;

  beforeAll(async () => {
    t = await startApp(
      {
        appId: 'sdkactors',
        components: [
          { metadata: { name: 'actorstore' }, spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] } },
        ],
      },
      { providers: [CounterActor] },
    );
    client = daprHttpClient(t.apiUrl);
    await client.start();
  }, 15_000);

  afterAll(async () => {
    await client?.stop();
    await t?.close();
  });

  it('calls methods with several arguments and gets their results; state persists between calls', async () => {
    const builder = new ActorProxyBuilder<CounterApi>(CounterActor as unknown as new () => CounterApi, client);
    const actor = builder.build(new ActorId('c-1'));
    expect(await actor.add(2, 'a')).toEqual({ count: 2, label: 'a' });
    expect(await actor.add(3, 'b')).toEqual({ count: 5, label: 'b' });
    expect(await actor.count()).toBe(5);
    const other = builder.build(new ActorId('c-2'));
    expect(await other.count()).toBe(0);
  });

  it("a failing method rejects with daprd's ERR_ACTOR_INVOKE_METHOD", async () => {
    const actor = new ActorProxyBuilder<CounterApi>(CounterActor as unknown as new () => CounterApi, client).build(new ActorId('c-3'));
    const err = await actor.fail().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    const details = JSON.parse(err?.message ?? '{}') as { status: number; error_msg: string };
    expect(details.status).toBe(500);
    expect(JSON.parse(details.error_msg)).toMatchObject({ errorCode: 'ERR_ACTOR_INVOKE_METHOD' });
  });
});
