import { Injectable } from '@nestjs/common';
import { AbstractActor, Actor, SidekickClient } from '../../src';
import { startApp, type TestApp } from '../support/app';

/** Where the actors reach the app's Dapr HTTP API (set once it listens). */
@Injectable()
class Api {
  url = '';
}

let client: SidekickClient;

@Actor({ type: 'PingR', reentrancy: { enabled: true, maxStackDepth: 5 } })
class PingR extends AbstractActor {
  async ping(): Promise<string> {
    return client.actors.proxy(PongR, this.actorId).pong();
  }

  async hello(): Promise<string> {
    return `hello from ${this.actorId}`;
  }

  async recurse(n: number): Promise<number> {
    return n === 0 ? 0 : 1 + (await client.actors.proxy(PingR, this.actorId).recurse(n - 1));
  }
}

@Actor({ type: 'PongR' })
class PongR extends AbstractActor {
  async pong(): Promise<string> {
    return client.actors.proxy(PingR, this.actorId).hello();
  }
}

@Actor({ type: 'Ping' })
class Ping extends AbstractActor {
  constructor(private readonly api: Api) {
    super();
  }

  async ping(): Promise<string> {
    return client.actors.proxy(Pong, this.actorId).pong();
  }

  async hello(): Promise<string> {
    return 'hello';
  }

  /** A -> B -> A through the HTTP API without a Dapr-Reentrancy-Id header: the chain is lost. */
  async pingOverHttp(): Promise<string> {
    const res = await fetch(`${this.api.url}/v1.0/actors/Pong/${this.actorId}/method/pongOverHttp`, { method: 'POST' });
    if (res.status !== 200) throw new Error(`Pong answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as string;
  }
}

@Actor({ type: 'Pong' })
class Pong extends AbstractActor {
  constructor(private readonly api: Api) {
    super();
  }

  async pong(): Promise<string> {
    return client.actors.proxy(Ping, this.actorId).hello();
  }

  async pongOverHttp(): Promise<string> {
    const res = await fetch(`${this.api.url}/v1.0/actors/Ping/${this.actorId}/method/hello`, { method: 'POST' });
    if (res.status !== 200) throw new Error(`Ping answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as string;
  }
}

/** Holds its turn until released, to see who may enter meanwhile. */
let release: () => void = () => undefined;

@Actor({ type: 'Holder', reentrancy: { enabled: true } })
class Holder extends AbstractActor {
  async hold(): Promise<string> {
    await new Promise<void>((resolve) => (release = resolve));
    return 'held';
  }

  async quick(): Promise<string> {
    return 'quick';
  }
}

const actorStore = {
  metadata: { name: 'actorstore' },
  spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] },
};

describe('actor reentrancy', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(
      { appId: 'reentrancy', components: [actorStore], actors: { turnTimeoutMs: 1000 } },
      { providers: [Api, PingR, PongR, Ping, Pong, Holder] },
    );
    client = t.app.get(SidekickClient);
    t.app.get(Api).url = t.apiUrl;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('enabled: A -> B -> A re-enters A in the same call chain', async () => {
    expect(await client.actors.proxy(PingR, 'a').ping()).toBe('hello from a');
  });

  it('enabled: a chain deeper than maxStackDepth fails with ERR_ACTOR_STACK_DEPTH', async () => {
    expect(await client.actors.proxy(PingR, 'deep').recurse(3)).toBe(3);
    await expect(client.actors.proxy(PingR, 'deep').recurse(10)).rejects.toMatchObject({
      code: 'ERR_ACTOR_STACK_DEPTH',
      message: expect.stringContaining('maxStackDepth is 5'),
    });
    const res = await fetch(`${t.apiUrl}/v1.0/actors/PingR/deep2/method/recurse`, { method: 'POST', body: '[10]' });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_STACK_DEPTH' });
  });

  it('disabled: A -> B -> A in-process fails at once with an error naming the cycle (no hang)', async () => {
    const started = Date.now();
    await expect(client.actors.proxy(Ping, 'a').ping()).rejects.toThrow(/re-entered actor Ping\/a .*reentrancy is disabled for Ping/);
    expect(Date.now() - started).toBeLessThan(1000); // it did not wait for the turn timeout (1000 ms here)
  });

  it('disabled: A -> B -> A over HTTP without the chain header fails after the turn timeout (no hang)', async () => {
    const started = Date.now();
    const res = await fetch(`${t.apiUrl}/v1.0/actors/Ping/h/method/pingOverHttp`, { method: 'POST' });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toMatchObject({ errorCode: 'ERR_ACTOR_INVOKE_METHOD', message: expect.stringContaining('stayed busy for 1000 ms') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('the Dapr-Reentrancy-Id header lets a call of the holding chain in; other chains wait their turn', async () => {
    const api = (method: string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${t.apiUrl}/v1.0/actors/Holder/x/method/${method}`, { method: 'POST', headers });
    const holding = api('hold', { 'dapr-reentrancy-id': 'chain-1' });
    await new Promise((r) => setTimeout(r, 100));
    let otherDone = false;
    const other = api('quick', { 'dapr-reentrancy-id': 'chain-2' }).then((r) => {
      otherDone = true;
      return r;
    });
    const same = await api('quick', { 'dapr-reentrancy-id': 'chain-1' });
    expect(await same.json()).toBe('quick');
    expect(otherDone).toBe(false);
    release();
    expect(await (await holding).json()).toBe('held');
    expect(await (await other).json()).toBe('quick');
  });
});
