import { formatPrettyLine } from '../../src/runtime/logger';
import { startupSummary } from '../../src/runtime/startup-summary';

describe('startupSummary', () => {
  const full = startupSummary({
    appId: 'orders',
    appAddress: 'http://127.0.0.1:3000',
    apiAddress: 'http://127.0.0.1:3500',
    components: [
      { name: 'statestore', type: 'state.redis' },
      { name: 'pubsub', type: 'pubsub.kafka' },
      { name: 'tick', type: 'bindings.cron' },
    ],
    subscriptions: [
      { pubsub: 'pubsub', topic: 'orders', routes: ['OrderProcessor.onOrder'] },
      { pubsub: 'pubsub', topic: 'payments', routes: ['/payments/big', '/payments'] },
    ],
    bindings: [{ name: 'tick', handler: 'BatchService.onTick' }],
  });

  it('counts in the message and lists the detail in the fields', () => {
    expect(full).toEqual({
      msg: 'orders started: 3 components, 2 subscriptions, 1 binding',
      fields: {
        app: 'http://127.0.0.1:3000',
        daprHttpApi: 'http://127.0.0.1:3500',
        components: { statestore: 'state.redis', pubsub: 'pubsub.kafka', tick: 'bindings.cron' },
        subscriptions: ['pubsub/orders -> OrderProcessor.onOrder', 'pubsub/payments -> /payments/big, /payments'],
        bindings: ['tick -> BatchService.onTick'],
      },
    });
  });

  it('an app with nothing: no app address, the HTTP API off, empty lists', () => {
    expect(startupSummary({ appId: 'bare', components: [], subscriptions: [], bindings: [] })).toEqual({
      msg: 'bare started: 0 components, 0 subscriptions, 0 bindings',
      fields: { daprHttpApi: 'off', components: {}, subscriptions: [], bindings: [] },
    });
    expect(startupSummary({ appId: 'a', components: [], subscriptions: [{ pubsub: 'p', topic: 't', routes: [] }], bindings: [] }).fields.subscriptions).toEqual(
      ['p/t -> (no route)'],
    );
  });

  it('is one line in the pretty format, everything on it', () => {
    const line = formatPrettyLine({ level: 30, time: 0, appId: 'orders', name: 'sidekick', ...full.fields, msg: full.msg }, { pid: 1 });
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(
      / LOG \[sidekick\] orders started: 3 components, 2 subscriptions, 1 binding app=http:\/\/127\.0\.0\.1:3000 daprHttpApi=http:\/\/127\.0\.0\.1:3500 components=\{"statestore":"state\.redis",.*\} subscriptions=\["pubsub\/orders -> OrderProcessor\.onOrder",.*\] bindings=\["tick -> BatchService\.onTick"\]$/,
    );
  });
});
