import { type Context, context, type ContextManager, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SidekickClient } from '../../src';
import { startApp, tempDir, type TestApp } from '../support/app';
import { eventually } from '../support/collector';
import { control, type FlakyControl, flakyStateFactory } from '../support/flaky.state';

/** The smallest context manager (what an OpenTelemetry SDK installs): the active context follows async calls. */
class StorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

interface Recorded {
  readonly name: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** A span that only records its events (the calls under test run with it active). */
function recordingSpan(events: Recorded[]): Span {
  const span = {
    addEvent: (name: string, attributes?: Record<string, unknown>) => {
      events.push({ name, attributes: attributes ?? {} });
      return span;
    },
    spanContext: () => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }),
    isRecording: () => true,
  };
  return span as unknown as Span;
}

describe('resiliency activations are events of the active span', () => {
  const controls = new Map<string, FlakyControl>();
  const manager = new StorageContextManager();
  let t: TestApp;

  beforeAll(async () => {
    context.setGlobalContextManager(manager);
    const dir = tempDir();
    writeFileSync(
      join(dir, 'resiliency.yaml'),
      `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: { name: spans }
spec:
  policies:
    retries: { quick: { policy: constant, duration: 5ms, maxRetries: 3 } }
  targets:
    components: { flaky: { outbound: { retry: quick } } }
`,
    );
    t = await startApp({
      appId: 'spanapp',
      resourcesPath: dir,
      componentTypes: [flakyStateFactory(controls)],
      components: [{ metadata: { name: 'flaky' }, spec: { type: 'state.flaky', version: 'v1' } }],
    });
  });
  afterAll(async () => {
    await t.close();
    context.disable();
  });

  it('each retry of a call made inside a span adds dapr.resiliency.retry to that span', async () => {
    const client = t.app.get(SidekickClient);
    const events: Recorded[] = [];
    const span = recordingSpan(events);
    // The OpenTelemetry API is loaded while the app starts: try until activations reach spans.
    await eventually(async () => {
      events.length = 0;
      control(controls, 'flaky').failures = 2;
      await context.with(trace.setSpan(context.active(), span), () => client.state('flaky').get('k'));
      return events.length > 0;
    });
    expect(events.map((e) => e.name)).toEqual(['dapr.resiliency.retry', 'dapr.resiliency.retry']);
    expect(events[0]?.attributes).toMatchObject({
      'dapr.resiliency.name': 'spans',
      'dapr.resiliency.target': 'statestore_flaky',
      'dapr.resiliency.direction': 'outbound',
      attempt: 1,
    });
  });
});
