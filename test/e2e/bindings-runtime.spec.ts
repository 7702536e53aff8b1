import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Binding, type BindingInput, SidekickClient, SidekickModule } from '../../src';
import { inspect, startApp, tempDir, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';
import { noopLogger } from '../support/logger';
import { loopFactory, type LoopBinding } from '../support/loop.binding';

const inputs = new Collector<BindingInput<{ n: number }>>();
let failNext = 0;

@Injectable()
class Reader {
  @Binding('loop')
  onEvent(input: BindingInput<{ n: number }>): { ok: number } {
    if (failNext-- > 0) throw new Error('try again');
    inputs.push(input);
    return { ok: input.data.n };
  }
}

describe('bindings runtime', () => {
  let t: TestApp;
  let loop: LoopBinding;
  beforeAll(async () => {
    t = await startApp(
      {
        appId: 'binder',
        componentTypes: [loopFactory],
        components: [
          { metadata: { name: 'loop' }, spec: { type: 'bindings.test-loop', version: 'v1' } },
          { metadata: { name: 'out-only' }, spec: { type: 'bindings.test-loop', version: 'v1', metadata: [{ name: 'direction', value: 'output' }] } },
        ],
      },
      { providers: [Reader] },
    );
    loop = inspect(t).component<LoopBinding>('loop') as LoopBinding;
  });
  afterAll(() => t.close());

  it('delivers input events to the @Binding method and returns its reply to the binding', async () => {
    await t.app.get(SidekickClient).invokeBinding('loop', 'create', { n: 1 }, { source: 'test' });
    await inputs.waitFor(1);
    expect(inputs.items[0]?.data).toEqual({ n: 1 });
    expect(inputs.items[0]?.metadata).toEqual({ source: 'test' });
    await eventually(() => loop.replies.length === 1);
    expect(loop.replies[0]?.toString()).toBe('{"ok":1}');
  });

  it('sends empty data (not null) when invokeBinding gets no data', async () => {
    const res = await t.app.get(SidekickClient).invokeBinding('loop', 'echo');
    expect(res.data?.length).toBe(0);
  });

  it('a handler error asks the binding to deliver again', async () => {
    failNext = 2;
    const before = loop.redeliveries;
    await t.app.get(SidekickClient).invokeBinding('loop', 'create', { n: 2 });
    await inputs.waitFor(2);
    expect(loop.redeliveries - before).toBe(2);
  });

  it('POST /v1.0/bindings/{name} JSON-encodes data, returns the response with metadata.* headers', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0/bindings/loop`, { method: 'POST', body: JSON.stringify({ data: 'x', operation: 'echo', metadata: { k: 'v' } }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('"x"');
    expect(res.headers.get('metadata.op')).toBe('echo');
    expect(res.headers.get('metadata.k')).toBe('v');
    const empty = await fetch(`${t.apiUrl}/v1.0/bindings/loop`, { method: 'POST', body: JSON.stringify({ data: { n: 3 }, operation: 'create' }) });
    expect(empty.status).toBe(204);
  });

  it('answers unknown bindings and operations with 500 ERR_INVOKE_OUTPUT_BINDING and bad JSON with 400', async () => {
    for (const body of [
      { name: 'nope', op: 'create' },
      { name: 'loop', op: 'explode' },
      { name: 'loop', op: '' },
    ]) {
      const res = await fetch(`${t.apiUrl}/v1.0/bindings/${body.name}`, { method: 'POST', body: JSON.stringify({ data: 1, operation: body.op }) });
      expect(res.status).toBe(500);
      expect((await res.json()).errorCode).toBe('ERR_INVOKE_OUTPUT_BINDING');
    }
    const bad = await fetch(`${t.apiUrl}/v1.0/bindings/loop`, { method: 'POST', body: '{oops' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errorCode).toBe('ERR_MALFORMED_REQUEST');
  });

  it('reports binding capabilities in /v1.0/metadata, honouring direction', async () => {
    const meta = await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json();
    const byName = Object.fromEntries((meta.components as { name: string; capabilities: string[] }[]).map((c) => [c.name, c.capabilities]));
    expect(byName['loop']).toEqual(['INPUT_BINDING', 'OUTPUT_BINDING']);
    expect(byName['out-only']).toEqual(['OUTPUT_BINDING']);
  });

  it('fails start-up when @Binding names no input binding', async () => {
    @Injectable()
    class Orphan {
      @Binding('out-only')
      on(): void {}
    }
    const dir = tempDir();
    const ref = await Test.createTestingModule({
      imports: [
        SidekickModule.forRoot({
          appId: 'b2',
          resourcesPath: dir,
          dataDir: dir,
          httpApi: { enabled: false },
          logger: noopLogger,
          componentTypes: [loopFactory],
          components: [
            { metadata: { name: 'out-only' }, spec: { type: 'bindings.test-loop', version: 'v1', metadata: [{ name: 'direction', value: 'output' }] } },
          ],
        }),
      ],
      providers: [Orphan],
    }).compile();
    await expect(ref.init()).rejects.toThrow(/@Binding\("out-only"\) on Orphan\.on names no loaded input binding; input bindings: none/);
  });
});
