import { randomUUID } from 'node:crypto';
import { Injectable, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { SidekickClient, SidekickModule, Subscribe, type TopicEvent, VirtualClock } from '../../src';
import type { PubSub } from '../../src/spi';
import { inspect, startApp, tempDir } from '../support/app';
import { Collector } from '../support/collector';
import { noopLogger } from '../support/logger';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

const memoryPubSub = (redeliverIntervalMs: number) => ({
  metadata: { name: 'pubsub' },
  spec: { type: 'pubsub.in-memory', version: 'v1', metadata: [{ name: 'redeliverIntervalMs', value: String(redeliverIntervalMs) }] },
});

describe('pub/sub delivery guarantees and lifecycle', () => {
  it('leaves a failing event with the broker when there is no dead-letter topic, and it is redelivered', async () => {
    const seen = new Collector<number>();
    let failUntil = 0;
    @Injectable()
    class Stubborn {
      @Subscribe({ pubsub: 'pubsub', topic: 'pending' })
      handle(_event: TopicEvent<{ n: number }>): void {
        seen.push(Date.now());
        if (Date.now() < failUntil) throw new Error('not yet');
      }
    }
    const t = await startApp(
      { appId: 'p1', components: [memoryPubSub(50)], pubsub: { retry: { maxRetries: 1, initialDelayMs: 5, maxDelayMs: 5 } } },
      { providers: [Stubborn] },
    );
    failUntil = Date.now() + 150;
    await t.app.get(SidekickClient).publish('pubsub', 'pending', { n: 1 });
    await new Promise((r) => setTimeout(r, 400));
    const runner = inspect(t).subscriptions()[0];
    expect(runner?.stats.delivered).toBe(1);
    expect(seen.items.length).toBeGreaterThanOrEqual(3); // failed attempts, redelivered after the interval, then success
    expect(runner?.stats.dropped).toBe(0);
    await t.close();
  });

  it('finishes an in-flight handler before shutdown completes', async () => {
    const done = new Collector<string>();
    let started = false;
    @Injectable()
    class Slow {
      @Subscribe({ pubsub: 'pubsub', topic: 'slow' })
      async handle(): Promise<void> {
        started = true;
        await new Promise((r) => setTimeout(r, 300));
        done.push('finished');
      }
    }
    const t = await startApp({ appId: 'p2' }, { providers: [Slow] });
    await t.app.get(SidekickClient).publish('pubsub', 'slow', {});
    while (!started) await new Promise((r) => setTimeout(r, 5));
    await t.close();
    expect(done.items).toEqual(['finished']);
    expect(inspect(t).subscriptions()[0]?.stats.delivered).toBe(1);
  });

  it('gives up on a handler still running drainTimeoutMs into shutdown: close() returns, the message stays unacknowledged', async () => {
    await requireRedis();
    const topic = `hung-${randomUUID().slice(0, 8)}`;
    let started = false;
    @Injectable()
    class Hung {
      @Subscribe({ pubsub: 'redis', topic })
      handle(): Promise<void> {
        started = true;
        return new Promise<void>(() => undefined); // never settles
      }
    }
    const redisPubSub = {
      metadata: { name: 'redis' },
      spec: { type: 'pubsub.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] },
    };
    const t = await startApp({ appId: 'hung-app', components: [redisPubSub], drainTimeoutMs: 300 }, { providers: [Hung] });
    const raw = rawRedis();
    await raw.connect();
    try {
      await t.app.get(SidekickClient).publish('redis', topic, { n: 1 });
      while (!started) await new Promise((r) => setTimeout(r, 5));
      const began = Date.now();
      await t.close();
      expect(Date.now() - began).toBeLessThan(3000);
      // Not acknowledged: still pending in the app's group, for another instance to claim after processingTimeout.
      expect(Number(((await raw.xpending(topic, 'hung-app')) as unknown[])[0])).toBe(1);
    } finally {
      await raw.del(topic);
      await raw.quit();
    }
  }, 15_000);

  it('fails start-up when @Subscribe names an unknown pub/sub, listing the loaded ones', async () => {
    @Injectable()
    class Lost {
      @Subscribe({ pubsub: 'kafka-prod', topic: 'x' })
      handle(): void {}
    }
    const dir = tempDir();
    const ref = await Test.createTestingModule({
      imports: [SidekickModule.forRoot({ appId: 'p3', resourcesPath: dir, dataDir: dir, httpApi: { enabled: false }, logger: noopLogger })],
      providers: [Lost],
    }).compile();
    await expect(ref.init()).rejects.toThrow(/@Subscribe on Lost\.handle subscribes to pub\/sub "kafka-prod", which is not loaded; loaded pub\/subs: pubsub/);
  });

  it('fails start-up when @Subscribe sits on a request-scoped provider', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @Subscribe({ pubsub: 'pubsub', topic: 'x' })
      handle(): void {}
    }
    const dir = tempDir();
    const ref = await Test.createTestingModule({
      imports: [SidekickModule.forRoot({ appId: 'p6', resourcesPath: dir, dataDir: dir, httpApi: { enabled: false }, logger: noopLogger })],
      providers: [PerRequest],
    }).compile();
    await expect(ref.init()).rejects.toThrow(/PerRequest\.handle has @Subscribe but PerRequest is request-scoped or transient/);
  });

  it('fails start-up on two default routes for one topic, and on an invalid CEL rule', async () => {
    @Injectable()
    class Twice {
      @Subscribe({ pubsub: 'pubsub', topic: 't' })
      a(): void {}
      @Subscribe({ pubsub: 'pubsub', topic: 't' })
      b(): void {}
    }
    @Injectable()
    class BadRule {
      @Subscribe({ pubsub: 'pubsub', topic: 'u', rules: [{ match: 'event.data.(' }] })
      a(): void {}
    }
    for (const [provider, message] of [
      [Twice, /more than one default route \(Twice\.a, Twice\.b\)/],
      [BadRule, /routing rule of BadRule\.a is not valid CEL: event\.data\.\(/],
    ] as const) {
      const dir = tempDir();
      const ref = await Test.createTestingModule({
        imports: [SidekickModule.forRoot({ appId: 'p4', resourcesPath: dir, dataDir: dir, httpApi: { enabled: false }, logger: noopLogger })],
        providers: [provider],
      }).compile();
      await expect(ref.init()).rejects.toThrow(message);
    }
  });

  it('competing consumers: two apps with one app id share the events; another app id gets them all', async () => {
    const got = { a: new Collector<number>(), b: new Collector<number>(), other: new Collector<number>() };
    const make = (sink: Collector<number>) => {
      @Injectable()
      class H {
        @Subscribe({ pubsub: 'pubsub', topic: 'shared' })
        handle(event: TopicEvent<{ n: number }>): void {
          sink.push(event.data.n);
        }
      }
      return H;
    };
    // One in-memory pub/sub is per process; the in-process test uses the same runtime's component for all three subscribers.
    const t = await startApp({ appId: 'group-a' }, { providers: [make(got.a)] });
    const pubsub = inspect(t).component<PubSub>('pubsub');
    const second = await pubsub?.subscribe({ topic: 'shared', consumerGroup: 'group-a' }, async (m) => {
      got.b.push((JSON.parse(m.data.toString()) as { data: { n: number } }).data.n);
    });
    const other = await pubsub?.subscribe({ topic: 'shared', consumerGroup: 'group-b' }, async (m) => {
      got.other.push((JSON.parse(m.data.toString()) as { data: { n: number } }).data.n);
    });
    const client = t.app.get(SidekickClient);
    for (let n = 0; n < 20; n++) await client.publish('pubsub', 'shared', { n });
    await got.other.waitFor(20);
    await new Promise((r) => setTimeout(r, 50));
    expect([...got.a.items, ...got.b.items].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(got.a.items.length).toBeGreaterThan(0);
    expect(got.b.items.length).toBeGreaterThan(0);
    await second?.close();
    await other?.close();
    await t.close();
  });

  it('drops an event whose ttlInSeconds passed before delivery to the dead-letter topic', async () => {
    const clock = new VirtualClock(Date.now());
    const handled = new Collector<number>();
    const dead = new Collector<number>();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    @Injectable()
    class Gated {
      @Subscribe({ pubsub: 'pubsub', topic: 'ttl', deadLetterTopic: 'ttl-dead', concurrency: 1 })
      async handle(event: TopicEvent<{ n: number }>): Promise<void> {
        if (event.data.n === 1) await gate;
        handled.push(event.data.n);
      }
      @Subscribe({ pubsub: 'pubsub', topic: 'ttl-dead' })
      onDead(event: TopicEvent<{ n: number }>): void {
        dead.push(event.data.n);
      }
    }
    const t = await startApp({ appId: 'p5', clock }, { providers: [Gated] });
    const client = t.app.get(SidekickClient);
    await client.publish('pubsub', 'ttl', { n: 1 });
    await client.publish('pubsub', 'ttl', { n: 2 }, { metadata: { ttlInSeconds: '10' } });
    await client.publish('pubsub', 'ttl', { n: 3 }, { metadata: { ttlInSeconds: '60' } });
    await clock.advance(11_000);
    release();
    await handled.waitFor(2);
    expect(handled.items).toEqual([1, 3]);
    await dead.waitFor(1);
    expect(handled.items).toEqual([1, 3]);
    expect(dead.items).toEqual([2]);
    await t.close();
  });
});
