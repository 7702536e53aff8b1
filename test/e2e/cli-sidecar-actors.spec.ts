import { mkdirSync, writeFileSync } from 'node:fs';
import { ActorId, ActorProxyBuilder } from '@dapr/dapr';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { cliEnv, cliProcesses, eventually, getJson, startCli } from '../support/cli';
import { freePort } from '../support/processes';
import { daprHttpClient } from '../support/dapr-client';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * `sidekick run` in sidecar mode with an app that hosts actors (test/fixtures/sidecar/actor-app.js,
 * plain node:http written from Dapr's "Dapr calling to user service code" contract): the sidecar reads
 * its GET /dapr/config and drives its /actors/... endpoints. Callers use the sidecar's
 * /v1.0/actors/{type}/{id}/method/{m}; the test asserts what they get, what the app receives and the
 * bytes in Redis.
 */

jest.setTimeout(180_000);

const running = cliProcesses(requireRedis);

interface Received {
  deactivated: string[];
  reminders: { id: string; name: string; body: unknown }[];
  timers: { id: string; name: string; body: unknown }[];
  maxOverlap: number;
  reentrancyIds: (string | null)[];
  methodsSeen: string[];
}

function redisResources(): string {
  const dir = tempDir('sidekick-cli-actors-');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'statestore.yaml'),
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n    - name: redisHost\n      value: "${redisHostPort()}"\n    - name: actorStateStore\n      value: "true"\n`,
  );
  return dir;
}

const put = (url: string, body?: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> =>
  fetch(url, { method: 'PUT', body, headers });

test('an app hosting actors over HTTP: calls in turns, state in Redis in Dapr key layout, errors, reminders, timers, reentrancy, idle deactivation', async () => {
  const appId = `actorapp${process.pid}${Date.now() % 100_000}`;
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${httpPort}/v1.0/actors`;
  const run = startCli(
    'sidekick run (actor app)',
    [
      'run',
      '--app-id',
      appId,
      '--app-port',
      String(appPort),
      '--dapr-http-port',
      String(httpPort),
      '--resources-path',
      redisResources(),
      '--',
      'node',
      'actor-app.js',
    ],
    cliEnv(),
  );
  running.push(run);
  const redis = rawRedis();
  try {
    // A call made before the sidecar has read GET /dapr/config waits for the app's types.
    await run.waitFor('the app', () => run.out.includes('== APP == actor app listening'), 60_000);

    // Ten concurrent calls on one id: turns, one at a time (the app saw no overlap), each read-modify-write kept.
    const calls = await Promise.all(Array.from({ length: 10 }, () => put(`${api}/Counter/c1/method/add`, JSON.stringify({ by: 1 }))));
    expect(calls.map((r) => r.status)).toEqual(Array(10).fill(200));
    const counts = await Promise.all(calls.map(async (r) => ((await r.json()) as { count: number }).count));
    expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(run.out).toContain(`hosting the app's actor types: calls go to its /actors/... endpoints`);
    const afterAdds = await getJson<Received>(`http://127.0.0.1:${appPort}/received`);
    expect(afterAdds.maxOverlap).toBe(1);

    // The state, written by the app through the sidecar, in the actor state store in Dapr's key layout.
    await redis.connect();
    expect(await redis.hget(`${appId}||Counter||c1||count`, 'data')).toBe('10');
    const read = await fetch(`${api}/Counter/c1/state/count`);
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('10');

    // Bytes pass through both ways: the caller's verb becomes PUT, query, headers and content type go on.
    const echo = await fetch(`${api}/Counter/c1/method/echo?x=1`, {
      method: 'POST',
      body: 'hello bytes',
      headers: { 'content-type': 'text/plain', 'x-custom': 'abc' },
    });
    expect(echo.status).toBe(200);
    expect(echo.headers.get('content-type')).toBe('text/plain');
    expect(echo.headers.get('x-echo')).toBe('abc');
    expect(await echo.text()).toBe('hello bytes');

    // App errors are daprd's ERR_ACTOR_INVOKE_METHOD (500), naming the app's status and body.
    const fail = await put(`${api}/Counter/c1/method/fail`);
    expect(fail.status).toBe(500);
    expect(await fail.json()).toEqual({
      errorCode: 'ERR_ACTOR_INVOKE_METHOD',
      message: expect.stringContaining('error from actor service: (500) counter exploded'),
    });
    const missing = await put(`${api}/Counter/c1/method/nope`);
    expect(missing.status).toBe(500);
    expect(await missing.json()).toEqual({ errorCode: 'ERR_ACTOR_INVOKE_METHOD', message: 'error invoke actor method: actor method not found: nope' });
    const unknownType = await put(`${api}/Nobody/x/method/add`);
    expect(unknownType.status).toBe(500);
    expect(((await unknownType.json()) as { message: string }).message).toContain('registered types: Counter, Pinger');

    // A reminder registered by the app (through the sidecar) fires on it: PUT .../method/remind/{name} with {data, dueTime, period}.
    expect((await put(`${api}/Counter/r1/method/remindMe`)).status).toBe(200);
    const stored = JSON.parse((await redis.hget(`actors||${appId}||Counter`, 'data')) ?? '[]') as { actorId: string; name: string }[];
    expect(stored).toEqual([expect.objectContaining({ actorId: 'r1', name: 'wake' })]);
    // A timer: PUT .../method/timer/{name} with {callback, data, dueTime, period}.
    expect((await put(`${api}/Counter/t1/method/timerMe`)).status).toBe(200);
    const fired = await eventually(
      'two reminder firings and one timer firing',
      () => getJson<Received>(`http://127.0.0.1:${appPort}/received`),
      (r) => r.reminders.length >= 2 && r.timers.length >= 1,
      30_000,
      run,
    );
    expect(fired.reminders.slice(0, 2)).toEqual([
      { id: 'r1', name: 'wake', body: { data: { hello: 'reminder' }, dueTime: '1s', period: 'R2/PT1S' } },
      { id: 'r1', name: 'wake', body: { data: { hello: 'reminder' }, dueTime: '1s', period: 'R2/PT1S' } },
    ]);
    expect(fired.timers).toEqual([{ id: 't1', name: 'tick', body: { callback: 'onTick', data: { hello: 'timer' }, dueTime: '200ms', period: '' } }]);
    expect(fired.methodsSeen).toContain('PUT echo?x=1');

    // Reentrancy (on for Pinger through entitiesConfig): ping calls pong on the same actor with the chain's Dapr-Reentrancy-Id.
    const ping = await put(`${api}/Pinger/p1/method/ping`);
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({ pong: 'pong' });
    const { reentrancyIds } = await getJson<Received>(`http://127.0.0.1:${appPort}/received`);
    expect(reentrancyIds).toHaveLength(2);
    expect(reentrancyIds[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(reentrancyIds[1]).toBe(reentrancyIds[0]);

    // Idle deactivation: Counter's actorIdleTimeout is 3s (scan every 1s): DELETE /actors/Counter/{id} on the app; Pinger's is 1h.
    const idle = await eventually(
      'idle Counter actors deactivated',
      () => getJson<Received>(`http://127.0.0.1:${appPort}/received`),
      (r) => ['Counter/c1', 'Counter/t1'].every((a) => r.deactivated.includes(a)),
      30_000,
      run,
    );
    expect(idle.deactivated).not.toContain('Pinger/p1');
    await run.waitFor("the app's output", () => run.out.includes('== APP == deactivated Counter/c1'), 10_000);

    // The state outlives the activation: the next call reads it back.
    const again = await put(`${api}/Counter/c1/method/add`, JSON.stringify({ by: 5 }));
    expect(await again.json()).toEqual({ count: 15 });
    const metadata = await getJson<{ actorRuntime: { activeActors: { type: string; count: number }[] } }>(`http://127.0.0.1:${httpPort}/v1.0/metadata`);
    expect(metadata.actorRuntime.activeActors).toEqual(
      expect.arrayContaining([
        { type: 'Counter', count: expect.any(Number) },
        { type: 'Pinger', count: 1 },
      ]),
    );
  } finally {
    const keys = await redis.keys(`*${appId}*`).catch(() => [] as string[]);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

/** The actor interface a caller builds the SDK's proxy from (its name is the actor type). */
class SdkCounterActor {
  increment(_by: number): Promise<number> {
    throw new Error('called through the proxy');
  }
  remindMe(): Promise<void> {
    throw new Error('called through the proxy');
  }
}

test("an app using @dapr/dapr's DaprServer actor runtime (HTTP) runs unchanged behind the sidecar; the SDK's ActorProxyBuilder calls it", async () => {
  const appId = `sdkactors${process.pid}${Date.now() % 100_000}`;
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const run = startCli(
    'sidekick run (sdk actor app)',
    [
      'run',
      '--app-id',
      appId,
      '--app-port',
      String(appPort),
      '--dapr-http-port',
      String(httpPort),
      '--resources-path',
      redisResources(),
      '--',
      'node',
      'sdk-actor-app.js',
    ],
    cliEnv(),
  );
  running.push(run);
  const redis = rawRedis();
  try {
    await run.waitFor('the app', () => run.out.includes('== APP == sdk actor app started'), 60_000);
    const client = daprHttpClient(`http://127.0.0.1:${httpPort}`);
    const proxy = new ActorProxyBuilder<SdkCounterActor>(SdkCounterActor, client).build(new ActorId('s1'));
    const results = await Promise.all([proxy.increment(2), proxy.increment(3), proxy.increment(5)]);
    // In turns: each call saw the one before it (whatever their order), so the last one answers 10.
    expect(Math.max(...results)).toBe(10);
    expect(new Set(results).size).toBe(3);
    await redis.connect();
    expect(await redis.hget(`${appId}||SdkCounterActor||s1||count`, 'data')).toBe('10');

    await proxy.remindMe();
    await run.waitFor("the SDK actor's reminder", () => run.out.includes('== APP == sdk reminder for s1: {"hello":"sdk"}'), 30_000);
    await run.waitFor('idle deactivation (actorIdleTimeout 2s)', () => run.out.includes('== APP == sdk actor deactivated: s1'), 30_000);
    // Back from deactivation, the SDK actor reads its state again through the sidecar.
    expect(await proxy.increment(1)).toBe(11);
  } finally {
    const keys = await redis.keys(`*${appId}*`).catch(() => [] as string[]);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

test('without a state store marked actorStateStore, calls of the app-hosted types fail with ERR_ACTOR_RUNTIME_NOT_FOUND and the sidecar names the fix', async () => {
  const dir = tempDir('sidekick-cli-actors-nostore-');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'statestore.yaml'),
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n    - name: redisHost\n      value: "${redisHostPort()}"\n`,
  );
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const run = startCli(
    'sidekick run (actor app, no actor store)',
    ['run', '--app-id', 'nostore', '--app-port', String(appPort), '--dapr-http-port', String(httpPort), '--resources-path', dir, '--', 'node', 'actor-app.js'],
    cliEnv(),
  );
  running.push(run);
  await run.waitFor('the app', () => run.out.includes('== APP == actor app listening'), 60_000);
  const res = await put(`http://127.0.0.1:${httpPort}/v1.0/actors/Counter/c1/method/add`, '{}');
  expect(res.status).toBe(500);
  expect(await res.json()).toEqual({
    errorCode: 'ERR_ACTOR_RUNTIME_NOT_FOUND',
    message: 'actor runtime is not configured: no state store is marked actorStateStore: "true"',
  });
  await run.waitFor(
    'the error naming the fix',
    () => run.out.includes('the app hosts actor types Counter, Pinger, and no state store is marked actorStateStore: "true"'),
    10_000,
  );
});

test('two sidecars of one app id with placement (SIDEKICK_ACTORS_PLACEMENT): each actor id runs in one app, calls to the other sidecar are forwarded as bytes', async () => {
  const appId = `placed${process.pid}${Date.now() % 100_000}`;
  const resources = redisResources();
  const env = cliEnv({ SIDEKICK_ACTORS_PLACEMENT: 'true' });
  const ports = [
    [await freePort(), await freePort()],
    [await freePort(), await freePort()],
  ] as const;
  const runs = ports.map(([appPort, httpPort], i) =>
    startCli(
      `sidekick run (placed actor app ${i})`,
      [
        'run',
        '--app-id',
        appId,
        '--app-port',
        String(appPort),
        '--dapr-http-port',
        String(httpPort),
        '--resources-path',
        resources,
        '--',
        'node',
        'actor-app.js',
      ],
      env,
    ),
  );
  running.push(...runs);
  const redis = rawRedis();
  try {
    for (const run of runs) await run.waitFor('the app', () => run.out.includes('== APP == actor app listening'), 60_000);
    for (const [, httpPort] of ports) {
      await eventually(
        'both instances in the membership table',
        () => getJson<{ actorRuntime?: { placement?: string } }>(`http://127.0.0.1:${httpPort}/v1.0/metadata`),
        (m) => m.actorRuntime?.placement === 'membership table: 2 live instances',
        30_000,
      );
    }
    const ids = Array.from({ length: 16 }, (_, i) => `p${i}`);
    // Every call goes to the first sidecar, then every call to the second: the owner's app runs each id.
    for (const [round, [, httpPort]] of ports.entries()) {
      const answers = await Promise.all(
        ids.map(async (id) => {
          const res = await put(`http://127.0.0.1:${httpPort}/v1.0/actors/Counter/${id}/method/add`, JSON.stringify({ by: 1 }));
          return { status: res.status, body: (await res.json()) as unknown };
        }),
      );
      expect(answers).toEqual(ids.map(() => ({ status: 200, body: { count: round + 1 } })));
    }
    const served = await Promise.all(ports.map(([appPort]) => getJson<Received & { calls: string[] }>(`http://127.0.0.1:${appPort}/received`)));
    const idsOf = (r: { calls: string[] }): Set<string> =>
      new Set(r.calls.filter((c) => c.endsWith('.add')).map((c) => c.slice('Counter/'.length, -'.add'.length)));
    const [first, second] = served.map(idsOf) as [Set<string>, Set<string>];
    expect(first.size).toBeGreaterThan(0);
    expect(second.size).toBeGreaterThan(0);
    expect([...first].filter((id) => second.has(id))).toEqual([]);
    expect([...first, ...second].sort()).toEqual([...ids].sort());
    // Bytes through the forwarding hop: an id the second app runs, called on the first sidecar.
    const remoteId = [...second][0] as string;
    const echo = await fetch(`http://127.0.0.1:${ports[0][1]}/v1.0/actors/Counter/${remoteId}/method/echo?via=first`, {
      method: 'POST',
      body: 'plain bytes',
      headers: { 'content-type': 'text/plain', 'x-custom': 'forwarded' },
    });
    expect(echo.status).toBe(200);
    expect([echo.headers.get('content-type'), echo.headers.get('x-echo'), await echo.text()]).toEqual(['text/plain', 'forwarded', 'plain bytes']);
    const after = await getJson<Received>(`http://127.0.0.1:${ports[1][0]}/received`);
    expect(after.methodsSeen).toContain('PUT echo?via=first');
    await redis.connect();
    expect(await redis.hget(`${appId}||Counter||p0||count`, 'data')).toBe('2');
  } finally {
    const keys = await redis.keys(`*${appId}*`).catch(() => [] as string[]);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});
