import { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/runtime/blocks/metrics/fast-metrics';
import { HttpPathLabeler, UNMATCHED_PATH } from '../../src/runtime/blocks/metrics/http-path';

const names = (): ReadonlySet<string> => new Set(['statestore', 'orders']);

describe('HTTP path labels', () => {
  it('default (low cardinality): no path label', () => {
    const paths = new HttpPathLabeler({ pathMatching: [], excludeVerbs: false }, names);
    expect(paths.labelled).toBe(false);
    expect(paths.label('/v1.0/state/:store/*', '/v1.0/state/statestore/k1')).toBeUndefined();
  });

  it('pathMatching: the matching pattern, the invoked method path, else "_"', () => {
    const paths = new HttpPathLabeler({ pathMatching: ['/v1.0/state/statestore/{key}', '/orders/{id}'], excludeVerbs: false }, names);
    expect(paths.label('/v1.0/state/:store/*', '/v1.0/state/statestore/k1')).toBe('/v1.0/state/statestore/{key}');
    expect(paths.label('/v1.0/invoke/:id/method/*', '/v1.0/invoke/shop/method/orders/42')).toBe('/orders/{id}');
    expect(paths.label('/v1.0/state/:store/*', '/v1.0/state/other/k1')).toBe(UNMATCHED_PATH);
    expect(paths.label('/v1.0/invoke/:id/method/*', '/v1.0/invoke/shop/method/orders/42/items')).toBe(UNMATCHED_PATH);
  });

  it('increasedCardinality: the template with loaded component names only', () => {
    const paths = new HttpPathLabeler({ increasedCardinality: true, pathMatching: [], excludeVerbs: false }, names);
    expect(paths.label('/v1.0/state/:store/*', '/v1.0/state/statestore/k1')).toBe('/v1.0/state/statestore/*');
    expect(paths.label('/v1.0/state/:store/*', '/v1.0/state/attacker-chosen/k1')).toBe('/v1.0/state/:store/*');
    expect(paths.label('/v1.0/publish/:pubsub/*', '/v1.0/publish/orders/topic-9')).toBe('/v1.0/publish/orders/*');
  });
});

describe('fast counters and histograms', () => {
  it('are exposed by the prom-client registry in the exposition format', async () => {
    const registry = new Registry();
    const counter = new FastCounter('x_count', 'help x', ['app_id', 'path']);
    const histogram = new FastHistogram('x_latency', 'help y', ['app_id'], [1, 10]);
    counter.attach(registry);
    histogram.attach(registry);
    const child = counter.labels({ app_id: 'a', path: '' });
    child.inc();
    child.inc();
    counter.inc({ app_id: 'b', path: '/p' }, 3);
    const h = histogram.labels({ app_id: 'a' });
    for (const v of [0.5, 5, 50]) h.observe(v);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE x_count counter');
    expect(text).toContain('x_count{app_id="a"} 2');
    expect(text).toContain('x_count{app_id="b",path="/p"} 3');
    expect(text).toContain('# TYPE x_latency histogram');
    expect(text).toContain('x_latency_bucket{le="1",app_id="a"} 1');
    expect(text).toContain('x_latency_bucket{le="10",app_id="a"} 2');
    expect(text).toContain('x_latency_bucket{le="+Inf",app_id="a"} 3');
    expect(text).toContain('x_latency_sum{app_id="a"} 55.5');
    expect(text).toContain('x_latency_count{app_id="a"} 3');
  });
});
