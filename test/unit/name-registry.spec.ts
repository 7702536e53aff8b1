import { DuplicateNameError } from '../../src/errors/config.errors';
import { SidekickError } from '../../src/errors/sidekick.error';
import { NameRegistry } from '../../src/runtime/registry/name.registry';

describe('NameRegistry', () => {
  it('registers values under names, in registration order', () => {
    const registry = new NameRegistry<number>('state store');
    registry.register('b', 2, 'b.yaml');
    registry.register('a', 1, 'a.yaml');
    expect(registry.get('a')).toBe(1);
    expect(registry.get('missing')).toBeUndefined();
    expect(registry.get('c')).toBeUndefined();
    expect(registry.names()).toEqual(['b', 'a']);
    expect(registry.values()).toEqual([2, 1]);
  });

  it('rejects a second registration under a name, naming the kind, the name and both origins, and keeps the first', () => {
    const registry = new NameRegistry<string>('pubsub');
    registry.register('orders', 'first', 'components/redis.yaml');
    let thrown: unknown;
    try {
      registry.register('orders', 'second', 'OrdersModule (inline)');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DuplicateNameError);
    expect(thrown).toMatchObject({
      code: 'ERR_DUPLICATE_NAME',
      message: 'duplicate pubsub "orders": defined in components/redis.yaml and again in OrdersModule (inline); names must be unique',
    });
    expect(registry.get('orders')).toBe('first');
    expect(registry.values()).toEqual(['first']);
  });

  it('names are case-sensitive', () => {
    const registry = new NameRegistry<number>('binding');
    registry.register('Orders', 1, 'x');
    registry.register('orders', 2, 'y');
    expect(registry.names()).toEqual(['Orders', 'orders']);
  });

  it('refuses any registration once frozen, and still serves lookups', () => {
    const registry = new NameRegistry<number>('secret store');
    registry.register('vault', 1, 'vault.yaml');
    registry.register('vault2', 2, 'vault2.yaml');
    registry.freeze();
    expect(() => registry.register('env', 2, 'LateModule')).toThrow(SidekickError);
    expect(() => registry.register('env', 2, 'LateModule')).toThrow(
      'cannot register secret store "env" from LateModule: the registry is locked once the app has started',
    );
    // Frozen wins over duplicate: the message is about the lock.
    expect(() => registry.register('vault', 3, 'LateModule')).toThrow(expect.objectContaining({ code: 'ERR_REGISTRY_FROZEN' }));
    expect(registry.get('vault')).toBe(1);
    expect(registry.get('env')).toBeUndefined();
  });
});
