import { parseAppActorConfig } from '../../src/runtime/app-channel/app-actors';

/** The app's `GET /dapr/config` as the sidecar reads it (sidecar mode's actor types and settings). */

test("Dapr's defaults apply to the listed entities when the app gives no settings", () => {
  expect(parseAppActorConfig({ entities: ['A'] })).toEqual({
    types: [
      {
        type: 'A',
        idleTimeoutMs: 3_600_000,
        scanIntervalMs: 30_000,
        drainOngoingCallTimeoutMs: 60_000,
        drainRebalancedActors: true,
        reentrant: false,
        maxStackDepth: 32,
      },
    ],
    scanIntervalMs: 30_000,
    problems: [],
  });
});

test('top-level settings, then entitiesConfig per type, override the defaults (Go and ISO 8601 durations)', () => {
  const config = parseAppActorConfig({
    entities: ['A', 'B'],
    actorIdleTimeout: '1h30m',
    actorScanInterval: '10s',
    drainOngoingCallTimeout: 'PT5S',
    drainRebalancedActors: false,
    reentrancy: { enabled: true },
    remindersStoragePartitions: 7,
    entitiesConfig: [{ entities: ['B'], actorIdleTimeout: '2s', actorScanInterval: '500ms', reentrancy: { enabled: true, maxStackDepth: 4 } }],
  });
  expect(config.problems).toEqual([]);
  expect(config.types).toEqual([
    {
      type: 'A',
      idleTimeoutMs: 5_400_000,
      scanIntervalMs: 10_000,
      drainOngoingCallTimeoutMs: 5000,
      drainRebalancedActors: false,
      reentrant: true,
      maxStackDepth: 32,
    },
    { type: 'B', idleTimeoutMs: 2000, scanIntervalMs: 500, drainOngoingCallTimeoutMs: 5000, drainRebalancedActors: false, reentrant: true, maxStackDepth: 4 },
  ]);
  expect(config.scanIntervalMs).toBe(500);
});

test('fields that cannot be read are ignored with a problem naming them; the rest is used', () => {
  const config = parseAppActorConfig({
    entities: ['A', 7, ''],
    actorIdleTimeout: 'soon',
    reentrancy: { enabled: 'yes' },
    drainRebalancedActors: 'no',
    entitiesConfig: [{ entities: ['Z'] }, { nope: true }],
  });
  expect(config.types.map((t) => [t.type, t.idleTimeoutMs, t.reentrant])).toEqual([['A', 3_600_000, false]]);
  expect(config.problems).toEqual([
    'GET /dapr/config: entities holds 7, not an actor type name: ignored',
    'GET /dapr/config: entities holds "", not an actor type name: ignored',
    'GET /dapr/config: reentrancy must be {enabled: boolean, maxStackDepth?: positive integer}: ignored',
    'GET /dapr/config: drainRebalancedActors must be true or false: ignored',
    'GET /dapr/config: actorIdleTimeout "soon" is not a positive Go duration (such as "1h", "30s"): the default applies',
    'GET /dapr/config: entitiesConfig[0] configures "Z", which is not in "entities": ignored',
    'GET /dapr/config: entitiesConfig[1] has no "entities" array of type names: ignored',
  ]);
});

test('an app without actors: no types, and no problem for a missing entities field; a non-object answer is named', () => {
  expect(parseAppActorConfig({})).toEqual({ types: [], scanIntervalMs: undefined, problems: [] });
  expect(parseAppActorConfig([1, 2]).problems).toEqual(['GET /dapr/config did not answer a JSON object: no actor types']);
});
