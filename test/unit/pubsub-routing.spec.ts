import { ConfigError } from '../../src/errors/config.errors';
import type { RouteTarget, TopicEvent } from '../../src/runtime/blocks/pubsub/pubsub.types';
import { type Cel, loadCel, Router } from '../../src/runtime/blocks/pubsub/routing';

// `path` as declarative routes have it (methods have none and describe as '').
const target = (name: string, rules: string[] = []): RouteTarget => ({
  name,
  path: name,
  rules,
  deliver: () => ({ status: 'success' }),
  deliverBulk: async () => ({}),
});

function event(data: unknown, type = 'com.dapr.event.sent'): TopicEvent {
  return {
    id: 'id-1',
    source: 'checkout',
    type,
    topic: 'orders',
    pubsubname: 'pubsub',
    data,
    envelope: { specversion: '1.0', id: 'id-1', source: 'checkout', type, data },
    metadata: {},
  };
}

/** Routes `e`, returning the route's name and the rules that failed to evaluate. */
function route(router: Router, e: TopicEvent): { to: string | undefined; failed: string[] } {
  const failed: string[] = [];
  const to = router.route(e, (rule, err) => failed.push(`${rule}: ${err.message}`))?.name;
  return { to, failed };
}

let cel: Cel;
beforeAll(async () => {
  const loaded = await loadCel([target('x', ['true'])]);
  if (!loaded) throw new Error('loadCel returned nothing for a target with rules');
  cel = loaded;
});

describe('pub/sub routing', () => {
  it('loads CEL only when some route has rules', async () => {
    await expect(loadCel([target('a'), target('b')])).resolves.toBeUndefined();
    await expect(loadCel([])).resolves.toBeUndefined();
  });

  it('sends everything to the default route when no route has rules (no CEL needed)', () => {
    const router = new Router([target('Orders.onOrder')], 'subscription pubsub/orders', undefined);
    expect(route(router, event({ n: 1 }))).toEqual({ to: 'Orders.onOrder', failed: [] });
    expect(router.describe()).toEqual([{ match: '', path: 'Orders.onOrder' }]);
  });

  it('tries rules in order (first match wins) on event.data and envelope fields, then the default route', () => {
    const router = new Router(
      [
        target('fallback'),
        target('big', ['event.data.n > 100']),
        target('widgets', ['event.type == "widget"', 'event.data.kind == "widget"']),
        target('any-big', ['event.data.n > 10']),
      ],
      'subscription pubsub/orders',
      cel,
    );
    expect(route(router, event({ n: 500, kind: 'x' }))).toEqual({ to: 'big', failed: [] });
    expect(route(router, event({ n: 50, kind: 'x' }))).toEqual({ to: 'any-big', failed: [] });
    expect(route(router, event({ n: 1, kind: 'widget' }))).toEqual({ to: 'widgets', failed: [] });
    expect(route(router, event({ n: 1, kind: 'x' }, 'widget'))).toEqual({ to: 'widgets', failed: [] });
    expect(route(router, event({ n: 1, kind: 'x' }))).toEqual({ to: 'fallback', failed: [] });
    expect(router.describe()).toEqual([
      { match: 'event.data.n > 100', path: 'big' },
      { match: 'event.type == "widget"', path: 'widgets' },
      { match: 'event.data.kind == "widget"', path: 'widgets' },
      { match: 'event.data.n > 10', path: 'any-big' },
      { match: '', path: 'fallback' },
    ]);
  });

  it('returns undefined when no rule matches and there is no default route', () => {
    const router = new Router([target('big', ['event.data.n > 100'])], 'subscription pubsub/orders', cel);
    expect(route(router, event({ n: 5 }))).toEqual({ to: undefined, failed: [] });
    expect(router.describe()).toEqual([{ match: 'event.data.n > 100', path: 'big' }]);
  });

  it('treats a non-boolean result as no match', () => {
    const router = new Router([target('typed', ['event.type']), target('fallback')], 'subscription pubsub/orders', cel);
    expect(route(router, event({}))).toEqual({ to: 'fallback', failed: [] });
  });

  it('reports a rule that fails to evaluate and goes on with the next rules', () => {
    const router = new Router(
      [target('nested', ['event.data.customer.tier == "gold"']), target('plain', ['event.data.n == 1'])],
      'subscription pubsub/orders',
      cel,
    );
    expect(route(router, event({ n: 1 }))).toEqual({ to: 'plain', failed: ['event.data.customer.tier == "gold": field not found: customer'] });
    expect(route(router, event({ customer: { tier: 'gold' } }))).toEqual({ to: 'nested', failed: [] });
    const both = route(router, event('text'));
    expect(both.to).toBeUndefined();
    expect(both.failed).toHaveLength(2);
  });

  it('fails start-up on invalid CEL, naming the route, the rule and the subscription', () => {
    const make = (): Router => new Router([target('Orders.onBig', ['event.data.n >'])], 'subscription pubsub/orders (OrdersModule)', cel);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/^subscription pubsub\/orders \(OrdersModule\) rules: routing rule of Orders\.onBig is not valid CEL: event\.data\.n >: /);
  });

  it('rejects more than one default route, naming them', () => {
    const make = (): Router => new Router([target('A.one'), target('B.two'), target('C.three', ['true'])], 'subscription pubsub/orders', cel);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow('subscription pubsub/orders has more than one default route (A.one, B.two); give all but one `rules`');
  });

  it('needs the CEL library when some route has rules', () => {
    expect(() => new Router([target('big', ['true'])], 'subscription pubsub/orders', undefined)).toThrow(
      'subscription pubsub/orders: routing rules need the CEL library (loadCel)',
    );
  });
});
