import { Controller, Get, Injectable } from '@nestjs/common';
import { Binding, type BindingInput, SidekickClient, Subscribe, type TopicEvent } from '../../src';
import type { CallInfo, Interceptor } from '../../src/spi';
import { startApp, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';
import { loopFactory } from '../support/loop.binding';

interface Recorded {
  readonly call: CallInfo;
  readonly outcome: 'ok' | 'error';
}

/** Records every call it sees with its outcome, and passes it on unchanged. */
function recorder(into: Recorded[], name = 'recorder'): Interceptor {
  return {
    name,
    async intercept<T>(call: CallInfo, next: () => Promise<T>): Promise<T> {
      try {
        const result = await next();
        into.push({ call, outcome: 'ok' });
        return result;
      } catch (err) {
        into.push({ call, outcome: 'error' });
        throw err;
      }
    },
  };
}

const events = new Collector<TopicEvent<{ n: number }>>();
const inputs = new Collector<BindingInput>();

@Injectable()
class Handlers {
  @Subscribe({ pubsub: 'pubsub', topic: 'seen' })
  onSeen(event: TopicEvent<{ n: number }>): void {
    events.push(event);
  }

  @Binding('loop')
  onInput(input: BindingInput): void {
    inputs.push(input);
  }
}

@Controller()
class PingController {
  @Get('ping')
  ping(): { pong: true } {
    return { pong: true };
  }
}

describe('the interception seam', () => {
  const seen: Recorded[] = [];
  const order: string[] = [];
  let t: TestApp;
  beforeAll(async () => {
    const outer: Interceptor = {
      name: 'outer',
      kinds: ['component'],
      intercept: (call, next) => {
        order.push(`outer>${call.operation}`);
        return next();
      },
    };
    t = await startApp(
      {
        appId: 'seamapp',
        componentTypes: [loopFactory],
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          { metadata: { name: 'loop' }, spec: { type: 'bindings.test-loop', version: 'v1' } },
        ],
        interceptors: [outer, recorder(seen)],
      },
      { providers: [Handlers], controllers: [PingController] },
    );
  });
  afterAll(() => t.close());

  const find = (kind: CallInfo['kind'], target: string, operation: string): Recorded[] =>
    seen.filter((r) => r.call.kind === kind && r.call.target === target && r.call.operation === operation);

  it('sees each component call once, with the component name, type, operation and outcome', async () => {
    const client = t.app.get(SidekickClient);
    const before = seen.length;
    await client.state('statestore').save('k', { v: 1 });
    expect(await client.state('statestore').get('k')).toEqual({ v: 1 });
    await expect(client.state('statestore').save('k', { v: 2 }, { etag: 'stale' })).rejects.toThrow();
    const mine = seen.slice(before).filter((r) => r.call.kind === 'component');
    expect(mine.map((r) => [r.call.target, r.call.type, r.call.operation, r.outcome])).toEqual([
      ['statestore', 'state.in-memory', 'set', 'ok'],
      ['statestore', 'state.in-memory', 'get', 'ok'],
      ['statestore', 'state.in-memory', 'set', 'error'],
    ]);
    // The first interceptor is the outer one: it saw the calls before the recorder.
    expect(order.filter((o) => o === 'outer>set')).toHaveLength(2);
  });

  it('sees a pub/sub delivery once (and the publish as a component call)', async () => {
    await t.app.get(SidekickClient).publish('pubsub', 'seen', { n: 7 });
    await events.waitFor(1);
    await eventually(() => find('delivery', 'pubsub', 'Handlers.onSeen').length === 1, 3000, 'delivery recorded');
    const delivery = find('delivery', 'pubsub', 'Handlers.onSeen')[0];
    expect(delivery?.call.attributes).toEqual({ topic: 'seen' });
    expect(delivery?.outcome).toBe('ok');
    expect(find('component', 'pubsub', 'publish')).toHaveLength(1);
  });

  it('sees an input-binding delivery and the output binding call', async () => {
    await t.app.get(SidekickClient).invokeBinding('loop', 'create', { n: 1 });
    await inputs.waitFor(1);
    await eventually(() => find('delivery', 'loop', 'Handlers.onInput').length === 1, 3000, 'binding delivery recorded');
    expect(find('component', 'loop', 'invoke')).toHaveLength(1);
  });

  it('sees each Dapr HTTP API request once, by route name, and the outgoing invocation', async () => {
    const before = seen.length;
    const res = await fetch(`${t.apiUrl}/v1.0/invoke/seamapp/method/ping`);
    expect(res.status).toBe(200);
    const missing = await fetch(`${t.apiUrl}/v1.0/state/nope/k`);
    expect(missing.status).toBe(400);
    const mine = seen.slice(before);
    expect(mine.filter((r) => r.call.kind === 'api').map((r) => [r.call.target, r.call.operation, r.outcome])).toEqual([
      ['invoke', 'GET /v1.0/invoke/:appId/method/*', 'ok'],
      ['state.get', 'GET /v1.0/state/:store/*', 'error'],
    ]);
    expect(mine.filter((r) => r.call.kind === 'invoke').map((r) => [r.call.target, r.call.operation, r.outcome])).toEqual([['seamapp', 'ping', 'ok']]);
  });
});
