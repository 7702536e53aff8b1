import { Controller, Inject, Injectable, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import {
  getStateStoreToken,
  SidekickClient,
  SidekickModule,
  type SidekickModuleOptions,
  type SidekickOptionsFactory,
  type StateClient,
  StateStore,
  VirtualClock,
} from '../../src';
import type { StateStore as StateStoreComponent } from '../../src/spi';
import { inspect, startApp, tempDir } from '../support/app';
import { noopLogger } from '../support/logger';

interface Order {
  readonly orderId: number;
}

@Injectable()
class OrderService {
  constructor(@StateStore('statestore') readonly orders: StateClient<Order>) {}
}

@Injectable()
class GhostService {
  constructor(@StateStore('ghoststore') readonly ghost: StateClient) {}
}

const memory = (name: string, keyPrefix?: string) => ({
  metadata: { name },
  spec: { type: 'state.in-memory', version: 'v1', metadata: keyPrefix ? [{ name: 'keyPrefix', value: keyPrefix }] : [] },
});

describe('SidekickModule', () => {
  it('injects a typed client with @StateStore and stores nodeapp||order in the embedded SQLite file', async () => {
    const dir = tempDir();
    const ref = await Test.createTestingModule({
      imports: [SidekickModule.forRoot({ appId: 'nodeapp', resourcesPath: dir, dataDir: join(dir, 'data'), httpApi: { enabled: false }, logger: noopLogger })],
      providers: [OrderService],
    }).compile();
    const app = await ref.init();
    const service = app.get(OrderService);
    await service.orders.save('order', { orderId: 42 });
    expect(await service.orders.get('order')).toEqual({ orderId: 42 });
    await app.close();

    const db = new Database(join(dir, 'data', 'state.db'), { readonly: true });
    const row = db.prepare('SELECT key, value FROM state').get() as { key: string; value: Buffer };
    db.close();
    expect(row.key).toBe('nodeapp||order');
    expect(row.value.toString()).toBe('{"orderId":42}');
  });

  it('fails start-up when @StateStore names a store that is not configured', async () => {
    const dir = tempDir();
    const ref = await Test.createTestingModule({
      imports: [SidekickModule.forRoot({ appId: 'a', resourcesPath: dir, dataDir: dir, httpApi: { enabled: false }, logger: noopLogger })],
      providers: [GhostService],
    }).compile();
    await expect(ref.init()).rejects.toThrow(/@StateStore\("ghoststore"\) in GhostService names no loaded state store; configured state stores: statestore/);
  });

  it('supports forRootAsync with injected configuration', async () => {
    @Injectable()
    class Settings {
      readonly appId = 'async-app';
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    const dir = tempDir();
    const ref = await Test.createTestingModule({
      imports: [
        SidekickModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: (s: Settings) => ({
            appId: s.appId,
            resourcesPath: dir,
            components: [memory('statestore')],
            httpApi: { enabled: false },
            logger: noopLogger,
          }),
        }),
      ],
    }).compile();
    const app = await ref.init();
    const client = app.get(SidekickClient);
    await client.state('statestore').save('k', 'v');
    expect((await inspect(app).component<StateStoreComponent>('statestore')?.get('async-app||k'))?.data.toString()).toBe('"v"');
    await app.close();
  });

  it('supports forRootAsync with useClass and useExisting, and rejects two ways at once', async () => {
    const dir = tempDir();
    @Injectable()
    class OptionsFactory implements SidekickOptionsFactory {
      createSidekickOptions(): SidekickModuleOptions {
        return { appId: 'by-class', resourcesPath: dir, components: [memory('statestore')], httpApi: { enabled: false }, logger: noopLogger };
      }
    }
    const byClass = await (await Test.createTestingModule({ imports: [SidekickModule.forRootAsync({ useClass: OptionsFactory })] }).compile()).init();
    await byClass.get(SidekickClient).state('statestore').save('k', 1);
    expect((await inspect(byClass).component<StateStoreComponent>('statestore')?.get('by-class||k'))?.data.toString()).toBe('1');
    await byClass.close();

    @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
    class OptionsModule {}
    const byExisting = await (
      await Test.createTestingModule({ imports: [SidekickModule.forRootAsync({ imports: [OptionsModule], useExisting: OptionsFactory })] }).compile()
    ).init();
    expect(byExisting.get(SidekickClient)).toBeInstanceOf(SidekickClient);
    await byExisting.close();

    expect(() => SidekickModule.forRootAsync({ useClass: OptionsFactory, useFactory: () => ({ appId: 'x' }) })).toThrow(
      /exactly one of useFactory, useClass or useExisting \(got 2\)/,
    );
  });

  it('forFeature declares injected state stores explicitly, whatever the import order', async () => {
    const dir = tempDir();
    @Injectable()
    class LateService {
      constructor(@Inject(getStateStoreToken('late')) readonly late: StateClient<number>) {}
    }
    @Module({ imports: [SidekickModule.forFeature({ stateStores: ['late'] })], providers: [LateService] })
    class FeatureModule {}
    const ref = await Test.createTestingModule({
      imports: [
        SidekickModule.forRoot({ appId: 'feat', resourcesPath: dir, components: [memory('late')], httpApi: { enabled: false }, logger: noopLogger }),
        FeatureModule,
      ],
    }).compile();
    const app = await ref.init();
    await app.get(LateService).late.save('n', 5);
    expect(await app.get(LateService).late.get('n')).toBe(5);
    await app.close();

    // Without forFeature, nothing declares the token (no @StateStore decorator named 'late').
    @Module({ providers: [LateService] })
    class BareModule {}
    await expect(
      Test.createTestingModule({
        imports: [
          SidekickModule.forRoot({ appId: 'feat', resourcesPath: dir, components: [memory('late')], httpApi: { enabled: false }, logger: noopLogger }),
          BareModule,
        ],
      }).compile(),
    ).rejects.toThrow(/can't resolve dependencies of the LateService/);
  });

  it('applies keyPrefix strategies: appid, name, none and a custom string', async () => {
    const t = await startApp({
      appId: 'pfx',
      components: [memory('s-appid'), memory('s-name', 'name'), memory('s-none', 'none'), memory('s-custom', 'shared')],
    });
    const client = t.app.get(SidekickClient);
    const raw = async (store: string, key: string): Promise<string | undefined> =>
      (await inspect(t).component<StateStoreComponent>(store)?.get(key))?.data.toString();
    for (const store of ['s-appid', 's-name', 's-none', 's-custom']) await client.state(store).save('k', store);
    expect(await raw('s-appid', 'pfx||k')).toBe('"s-appid"');
    expect(await raw('s-name', 's-name||k')).toBe('"s-name"');
    expect(await raw('s-none', 'k')).toBe('"s-none"');
    expect(await raw('s-custom', 'shared||k')).toBe('"s-custom"');
    // With keyPrefix none a key may contain ||; with a prefix it may not.
    await client.state('s-none').save('a||b', 1);
    await expect(client.state('s-appid').save('a||b', 1)).rejects.toThrow(/can't contain '\|\|'/);
    await t.close();
  });

  it('reads TTLs through the injected clock', async () => {
    const clock = new VirtualClock();
    const t = await startApp({ appId: 'ttl', clock, components: [memory('statestore')] });
    const state = t.app.get(SidekickClient).state('statestore');
    await state.save('short', 'x', { ttlInSeconds: 10 });
    await state.save('forever', 'y');
    await clock.advance(9_000);
    expect(await state.get('short')).toBe('x');
    await clock.advance(2_000);
    expect(await state.get('short')).toBeUndefined();
    expect(await state.get('forever')).toBe('y');
    await t.close();
  });

  it('drains an in-flight HTTP API request on shutdown, then closes components', async () => {
    @Controller()
    class SlowController {
      @Post('slow')
      async slow(): Promise<string> {
        await new Promise((r) => setTimeout(r, 400));
        return 'done';
      }
    }
    const t = await startApp({ appId: 'drain' }, { controllers: [SlowController] });
    const inFlight = fetch(`${t.apiUrl}/v1.0/invoke/drain/method/slow`, { method: 'POST' });
    await new Promise((r) => setTimeout(r, 100));
    const closing = t.close();
    const res = await inFlight;
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('done');
    await closing;
    await expect(fetch(`${t.apiUrl}/v1.0/healthz`)).rejects.toThrow();
  });

  it('rejects an invalid appId with a clear error', () => {
    expect(() => SidekickModule.forRoot({ appId: 'bad app' })).not.toThrow();
    return expect(Test.createTestingModule({ imports: [SidekickModule.forRoot({ appId: 'bad app', logger: noopLogger })] }).compile()).rejects.toThrow(
      /appId "bad app" is invalid/,
    );
  });
});
