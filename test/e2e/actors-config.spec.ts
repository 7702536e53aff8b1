import { AbstractActor, Actor, actor } from '../../src';
import { startApp } from '../support/app';

@Actor({ type: 'Needy' })
class Needy extends AbstractActor {
  async hi(): Promise<string> {
    return 'hi';
  }
}

class BadIdle extends AbstractActor {}
actor(BadIdle, { type: 'BadIdle', idleTimeout: 'a while' });

describe('actor configuration errors', () => {
  it('refuses to start when actor types exist and no state store is marked actorStateStore', async () => {
    await expect(startApp({ appId: 'noactorstore' }, { providers: [Needy] })).rejects.toThrow(
      /actor types Needy need an actor state store, and no state store is marked actorStateStore: "true"/,
    );
  });

  it('refuses two stores marked actorStateStore', async () => {
    const marked = (name: string) => ({
      metadata: { name },
      spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] },
    });
    await expect(startApp({ appId: 'twostores', components: [marked('a'), marked('b')] }, { providers: [Needy] })).rejects.toThrow(
      /only one state store may be the actor state store; marked actorStateStore: "true": a, b/,
    );
  });

  it('names the class and the field of a malformed idleTimeout', async () => {
    const components = [{ metadata: { name: 's' }, spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] } }];
    await expect(startApp({ appId: 'badidle', components }, { providers: [BadIdle] })).rejects.toThrow(
      /@Actor\({ type: "BadIdle" }\) on BadIdle: idleTimeout "a while" is not a positive duration/,
    );
  });

  it('the decorator refuses reserved and malformed type names', () => {
    expect(() => Actor({ type: 'dapr.internal.x' })(class X {})).toThrow(/reserved/);
    expect(() => Actor({ type: 'a/b' })(class Y {})).toThrow(/may not contain/);
    expect(() => Actor({ type: 'Z', reentrancy: { enabled: true, maxStackDepth: 0 } })(class Z {})).toThrow(/maxStackDepth must be a whole number/);
  });

  it('the embedded default SQLite store is the actor state store', async () => {
    const t = await startApp({ appId: 'defaultstore', components: [] }, { providers: [Needy] });
    try {
      const meta = await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json();
      const store = (meta.components as { name: string; type: string; capabilities: string[] }[]).find((c) => c.name === 'statestore');
      expect(store).toMatchObject({ type: 'state.sqlite', capabilities: expect.arrayContaining(['ACTOR', 'TRANSACTIONAL']) });
      const res = await fetch(`${t.apiUrl}/v1.0/actors/Needy/1/method/hi`, { method: 'POST' });
      expect(await res.json()).toBe('hi');
    } finally {
      await t.close();
    }
  });
});
