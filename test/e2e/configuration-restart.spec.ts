import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Injectable } from '@nestjs/common';
import { type ConfigurationChange, OnConfigurationChange, SidekickClient } from '../../src';
import { captureLogs } from '../support/logger';
import { configurationTableSql } from '../../libs/postgres/postgres.configuration-store';
import { startApp, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';
import { freePort } from '../support/processes';

/**
 * A subscription resumes by itself after its server restarts. Each test runs its OWN Redis or
 * PostgreSQL on a free port (never the shared ones), restarts it, and stops it at the end.
 */

const exec = promisify(execFile);
const redisSeen = new Collector<string>();
const pgSeen = new Collector<string>();

function lines(change: ConfigurationChange): string[] {
  return Object.entries(change.items).map(([k, item]) => (change.deleted.includes(k) ? `${k} deleted` : `${k}=${item.value}@${item.version}`));
}

@Injectable()
class RedisWatcher {
  @OnConfigurationChange({ store: 'config', keys: ['flag'] })
  on(change: ConfigurationChange): void {
    for (const line of lines(change)) redisSeen.push(line);
  }
}

@Injectable()
class PostgresWatcher {
  @OnConfigurationChange({ store: 'config', keys: ['flag'] })
  on(change: ConfigurationChange): void {
    for (const line of lines(change)) pgSeen.push(line);
  }
}

/** A redis-server child process of this test, keeping its data across restarts (append-only file in a temp dir). */
class OwnRedis {
  private child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'sidekick-cfg-redis-'));
  constructor(readonly port: number) {}

  async start(...extra: string[]): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      this.dir,
      ...extra,
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    await eventually(async () => (await this.cli('PING').catch(() => '')).trim() === 'PONG', 10_000, `redis-server on ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  async cli(...args: string[]): Promise<string> {
    return (await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args])).stdout;
  }
}

/** A PostgreSQL cluster of this test (initdb in a temp dir, pg_ctl start/stop). */
class OwnPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'sidekick-cfg-pg-'));
  /** The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin), as scripts/services.sh finds them. */
  private readonly bin = (() => {
    const root = '/usr/lib/postgresql';
    const majors = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
    const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
    if (!newest) throw new Error(`no PostgreSQL binaries under ${root}/<version>/bin: run bash scripts/services.sh up postgres (it installs them)`);
    return join(root, newest, 'bin');
  })();
  constructor(readonly port: number) {}

  private run(tool: string, args: string[]): Promise<{ stdout: string }> {
    const asRoot = process.getuid?.() === 0;
    return exec(asRoot ? 'runuser' : join(this.bin, tool), asRoot ? ['-u', 'postgres', '--', join(this.bin, tool), ...args] : args, { timeout: 60_000 });
  }

  async init(): Promise<void> {
    if (process.getuid?.() === 0) {
      const { stdout } = await exec('id', ['-u', 'postgres']);
      const { stdout: gid } = await exec('id', ['-g', 'postgres']);
      chownSync(this.dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await this.run('initdb', ['-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync']);
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off`;
    await this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-o', options, '-l', join(this.dir, 'log'), 'start', '-w', '-t', '60']);
  }

  async stop(): Promise<void> {
    await this.run('pg_ctl', ['-D', join(this.dir, 'data'), 'stop', '-m', 'fast', '-w', '-t', '60']).catch(() => undefined);
  }

  url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async psql(statement: string): Promise<void> {
    await exec('psql', [this.url(), '-v', 'ON_ERROR_STOP=1', '-q', '-c', statement]);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('configuration.redis on a server that refuses CONFIG (managed Redis)', () => {
  it('warns what to set, and subscriptions work when the server already sends the notifications', async () => {
    const redis = new OwnRedis(await freePort());
    const logs = captureLogs();
    let t: TestApp | undefined;
    try {
      await redis.start('--rename-command', 'CONFIG', '', '--notify-keyspace-events', 'KA');
      t = await startApp({
        appId: 'cfgmanaged',
        logger: logs,
        components: [
          {
            metadata: { name: 'config' },
            spec: { type: 'configuration.redis', version: 'v1', metadata: [{ name: 'redisHost', value: `127.0.0.1:${redis.port}` }] },
          },
        ],
      });
      const sub = await t.app.get(SidekickClient).configuration.subscribe('config', ['k']);
      await redis.cli('SET', 'k', 'v||1');
      const first = await sub.next();
      expect(first.value?.items).toEqual({ k: { value: 'v', version: '1', metadata: {} } });
      await sub.unsubscribe();
      const warning = logs.find({ level: 'warn' }).find((l) => /refused CONFIG/.test(l.msg));
      expect(warning?.msg).toMatch(/set notify-keyspace-events to include Kg\$xe on the server/);
    } finally {
      await t?.close();
      await redis.stop();
      redis.remove();
    }
  }, 60_000);
});

describe('configuration subscriptions after a server restart', () => {
  it('configuration.redis: the subscription resumes by itself (notifications re-enabled, missed change caught up)', async () => {
    const redis = new OwnRedis(await freePort());
    let t: TestApp | undefined;
    try {
      await redis.start();
      t = await startApp(
        {
          appId: 'cfgrestart',
          components: [
            {
              metadata: { name: 'config' },
              spec: { type: 'configuration.redis', version: 'v1', metadata: [{ name: 'redisHost', value: `127.0.0.1:${redis.port}` }] },
            },
          ],
        },
        { providers: [RedisWatcher] },
      );
      await redis.cli('SET', 'flag', 'a||1');
      await redisSeen.waitFor(1);

      await redis.stop();
      const down = await fetch(`${t.apiUrl}/v1.0/configuration/config?key=flag`);
      expect(down.status).toBe(500);
      const body = (await down.json()) as { errorCode: string; message: string };
      expect(body.errorCode).toBe('ERR_CONFIGURATION_GET');
      expect(body.message).toMatch(/^failed to get \[flag\] from Configuration store config: /);

      // The restarted server has its data back but notify-keyspace-events off. The write may land before Sidekick reconnects.
      const restarted = Date.now();
      await redis.start();
      await redis.cli('SET', 'flag', 'b||2');
      await redisSeen.waitFor(2, 15_000);
      const resumedMs = Date.now() - restarted;
      expect(await redis.cli('CONFIG', 'GET', 'notify-keyspace-events')).toMatch(/K/);
      const written = Date.now();
      await redis.cli('SET', 'flag', 'c||3');
      await redisSeen.waitFor(3, 5000);
      expect(Date.now() - written).toBeLessThan(1000);
      expect(redisSeen.items).toEqual(['flag=a@1', 'flag=b@2', 'flag=c@3']);
      process.stdout.write(`configuration.redis resumed ${resumedMs} ms after the restart began\n`);
    } finally {
      await t?.close();
      await redis.stop();
      redis.remove();
    }
  }, 60_000);

  it('configuration.redis: a restart that lost the data is delivered as the deletion of the watched keys', async () => {
    const redis = new OwnRedis(await freePort());
    let t: TestApp | undefined;
    try {
      await redis.start('--appendonly', 'no');
      t = await startApp({
        appId: 'cfglost',
        components: [
          {
            metadata: { name: 'config' },
            spec: { type: 'configuration.redis', version: 'v1', metadata: [{ name: 'redisHost', value: `127.0.0.1:${redis.port}` }] },
          },
        ],
      });
      const seen: string[] = [];
      const sub = await t.app.get(SidekickClient).configuration.subscribe('config', ['gone', 'never']);
      await redis.cli('SET', 'gone', 'x||1');
      for await (const change of sub) {
        seen.push(...lines(change));
        if (seen.length === 1) {
          await redis.stop();
          await redis.start('--appendonly', 'no'); // empty again
        }
        if (seen.length === 2) break;
      }
      expect(seen).toEqual(['gone=x@1', 'gone deleted']);
    } finally {
      await t?.close();
      await redis.stop();
      redis.remove();
    }
  }, 60_000);

  it('configuration.postgresql: the subscription resumes by itself (LISTEN again, missed change caught up)', async () => {
    const pg = new OwnPostgres(await freePort());
    let t: TestApp | undefined;
    try {
      await pg.init();
      await pg.start();
      await pg.psql(configurationTableSql('settings', 'config'));
      t = await startApp(
        {
          appId: 'cfgrestartpg',
          components: [
            {
              metadata: { name: 'config' },
              spec: {
                type: 'configuration.postgresql',
                version: 'v1',
                metadata: [
                  { name: 'connectionString', value: pg.url() },
                  { name: 'table', value: 'settings' },
                  { name: 'pgNotifyChannel', value: 'config' },
                ],
              },
            },
          ],
        },
        { providers: [PostgresWatcher] },
      );
      await pg.psql(`INSERT INTO settings (key, value, version) VALUES ('flag', 'a', '1')`);
      await pgSeen.waitFor(1);

      await pg.stop();
      const down = await fetch(`${t.apiUrl}/v1.0/configuration/config?key=flag`);
      expect(down.status).toBe(500);
      expect(((await down.json()) as { errorCode: string }).errorCode).toBe('ERR_CONFIGURATION_GET');

      const restarted = Date.now();
      await pg.start();
      // Written as soon as the server is back, likely before Sidekick LISTENs again: caught up from the table.
      await pg.psql(`UPDATE settings SET value = 'b', version = '2' WHERE key = 'flag'`);
      await pgSeen.waitFor(2, 15_000);
      const resumedMs = Date.now() - restarted;
      const written = Date.now();
      await pg.psql(`UPDATE settings SET value = 'c', version = '3' WHERE key = 'flag'`);
      await pgSeen.waitFor(3, 5000);
      expect(Date.now() - written).toBeLessThan(1000);
      expect(pgSeen.items).toEqual(['flag=a@1', 'flag=b@2', 'flag=c@3']);
      process.stdout.write(`configuration.postgresql resumed ${resumedMs} ms after the restart began\n`);
    } finally {
      await t?.close();
      await pg.stop();
      pg.remove();
    }
  }, 120_000);
});
