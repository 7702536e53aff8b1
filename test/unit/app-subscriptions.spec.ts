import { parseAppSubscriptions } from '../../src/runtime/app-channel/app-subscriptions';

describe("an app's GET /dapr/subscribe answer, read as daprd reads it", () => {
  it('reads v1 (route) and v2 (routes) entries, with dead letters, bulk and metadata', () => {
    const { subscriptions, skipped } = parseAppSubscriptions([
      { pubsubname: 'p', topic: 'a', route: 'orders' },
      {
        pubsubname: 'p',
        topic: 'b',
        routes: { rules: [{ match: 'event.type == "x"', path: '/x' }], default: '/other' },
        deadLetterTopic: 'dead',
        metadata: { rawPayload: true, 'Mixed-Case': 'kept' },
        bulkSubscribe: { enabled: true, maxMessagesCount: 5 },
      },
    ]);
    expect(skipped).toEqual([]);
    expect(subscriptions).toEqual([
      expect.objectContaining({ pubsub: 'p', topic: 'a', rules: [], defaultPath: 'orders', source: 'GET /dapr/subscribe' }),
      expect.objectContaining({
        pubsub: 'p',
        topic: 'b',
        rules: [{ match: 'event.type == "x"', path: '/x' }],
        defaultPath: '/other',
        deadLetterTopic: 'dead',
        metadata: { rawPayload: 'true', 'Mixed-Case': 'kept' },
        bulk: { enabled: true, maxMessagesCount: 5 },
      }),
    ]);
  });

  it('matches field names case-insensitively, as Go decodes JSON (pubsubName, deadLetterTopic, Routes)', () => {
    const { subscriptions } = parseAppSubscriptions([{ pubsubName: 'p', Topic: 't', Routes: { Default: '/d' }, DeadLetterTopic: 'dl' }]);
    expect(subscriptions).toEqual([expect.objectContaining({ pubsub: 'p', topic: 't', defaultPath: '/d', deadLetterTopic: 'dl' })]);
  });

  it('routes.default wins over route; rules without a path are dropped', () => {
    const { subscriptions } = parseAppSubscriptions([
      { pubsubname: 'p', topic: 't', route: '/v1', routes: { default: '/v2', rules: [{ match: 'x', path: '' }] } },
    ]);
    expect(subscriptions[0]).toEqual(expect.objectContaining({ defaultPath: '/v2', rules: [] }));
  });

  it('skips entries it cannot use, saying why, and keeps the others', () => {
    const { subscriptions, skipped } = parseAppSubscriptions([
      { topic: 'no-pubsub', route: '/x' },
      { pubsubname: 'p', topic: 'no-route' },
      { pubsubname: 'p', topic: 'ok', route: '/ok' },
    ]);
    expect(subscriptions.map((s) => s.topic)).toEqual(['ok']);
    expect(skipped).toHaveLength(2);
    expect(skipped[0]).toMatch(/^GET \/dapr\/subscribe entry 0: .*pubsubname/);
    expect(skipped[1]).toBe('GET /dapr/subscribe entry 1 (p/no-route) has no route: skipped');
  });

  it('an answer that is not an array means no subscriptions', () => {
    expect(parseAppSubscriptions({ not: 'an array' })).toEqual({
      subscriptions: [],
      skipped: ['GET /dapr/subscribe did not answer a JSON array: no subscriptions'],
    });
  });
});
