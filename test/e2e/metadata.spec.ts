import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { SidekickClient, SidekickModule, StateStore, type StateClient, Subscribe, type TopicEvent } from '../../src';
import { inspect, startApp, tempDir } from '../support/app';
import { Collector, eventually } from '../support/collector';
import { captureLogs, noopLogger } from '../support/logger';
import { redisHostPort, requireRedis } from '../support/services';

const aliasEvents = new Collector<number>();

@Injectable()
class AliasHandler {
  @Subscribe({ pubsub: 'pubsub', topic: 'aliased' })
  handle(event: TopicEvent<{ n: number }>): void {
    aliasEvents.push(event.data.n);
  }
}
// A second name for the same function (as `subscribe(Type, name)` users or mixins create): one handler, not two.
(AliasHandler.prototype as unknown as Record<string, unknown>)['other'] = AliasHandler.prototype.handle;

@Injectable()
class NeedsBroken {
  constructor(@StateStore('broken') readonly broken: StateClient) {}
}

describe('/v1.0/metadata and start-up messages', () => {
  it('reports ACTOR only for the state store marked actorStateStore', async () => {
    const t = await startApp({
      appId: 'meta',
      components: [
        { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
        { metadata: { name: 'actors' }, spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] } },
      ],
    });
    const meta = await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json();
    const caps = (name: string): string[] => (meta.components as { name: string; capabilities: string[] }[]).find((c) => c.name === name)?.capabilities ?? [];
    expect(caps('actors')).toContain('ACTOR');
    expect(caps('statestore')).not.toContain('ACTOR');
    await t.close();
  });

  it('logs a start-up summary once the app listens, and what shutdown drained', async () => {
    const logs = captureLogs();
    const t = await startApp({ appId: 'summary', logger: logs }, { providers: [AliasHandler] });
    await eventually(() => logs.find({ text: 'summary started' }).length === 1, 2000, 'the summary line');
    const [line] = logs.find({ text: 'summary started' });
    expect(line?.msg).toBe('summary started: 2 components, 1 subscription, 0 bindings');
    expect(line?.fields).toMatchObject({
      app: t.appUrl,
      daprHttpApi: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      components: { statestore: 'state.in-memory', pubsub: 'pubsub.in-memory' },
      subscriptions: ['pubsub/aliased -> AliasHandler.handle'],
    });
    await t.close();
    expect(logs.find({ text: 'drained: every in-flight handler and request finished' })).toHaveLength(1);
  });

  it('registers a method reachable under two names as one subscription, delivering once', async () => {
    const t = await startApp({ appId: 'alias' }, { providers: [AliasHandler] });
    expect(
      inspect(t)
        .subscriptions()
        .filter((s) => s.topic === 'aliased'),
    ).toHaveLength(1);
    await t.app.get(SidekickClient).publish('pubsub', 'aliased', { n: 1 });
    await aliasEvents.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(aliasEvents.items).toEqual([1]);
    await t.close();
  });

  it('says a store referenced by @StateStore failed to initialise (ignoreErrors), not that it is unknown', async () => {
    const dir = tempDir();
    const ref = Test.createTestingModule({
      imports: [
        SidekickModule.forRoot({
          appId: 'broken',
          resourcesPath: dir,
          httpApi: { enabled: false },
          logger: noopLogger,
          components: [
            {
              metadata: { name: 'broken' },
              spec: {
                type: 'state.redis',
                version: 'v1',
                ignoreErrors: true,
                initTimeout: '2s',
                metadata: [
                  { name: 'redisHost', value: '127.0.0.1:1' },
                  { name: 'dialTimeout', value: '200ms' },
                ],
              },
            },
          ],
        }),
      ],
      providers: [NeedsBroken],
    });
    await expect((await ref.compile()).init()).rejects.toThrow(
      /@StateStore\("broken"\) in NeedsBroken: state store "broken" failed to initialise \(spec.ignoreErrors let the app start without it\): .*unreachable/,
    );
  });

  it('says "authentication failed" when Redis refuses the credentials, not "unreachable"', async () => {
    await requireRedis();
    const err = await startApp({
      appId: 'auth',
      components: [
        {
          metadata: { name: 'statestore' },
          spec: {
            type: 'state.redis',
            version: 'v1',
            metadata: [
              { name: 'redisHost', value: redisHostPort() },
              { name: 'redisUsername', value: 'no-such-user' },
              { name: 'redisPassword', value: 'wrong-password' },
            ],
          },
        },
      ],
    }).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/authentication failed/);
    expect(err?.message).not.toMatch(/unreachable/);
    expect(err?.message).not.toContain('wrong-password');
  });
});
