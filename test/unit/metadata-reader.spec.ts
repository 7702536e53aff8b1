import { ConfigError } from '../../src/errors/config.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import { MetadataReader, RUNTIME_METADATA_KEYS, closestName, componentInit, isTruthy } from '../../src/spi/metadata-reader';
import { noopLogger } from '../support/logger';

const reader = (metadata: Record<string, string>): MetadataReader =>
  new MetadataReader(metadata, { component: 'cache', type: 'state.redis', source: 'components/cache.yaml' });

/** The ConfigError `fn` throws (fails the test when it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('MetadataReader', () => {
  it('matches names case-insensitively and treats blank values as absent', () => {
    const md = reader({ RedisHost: ' localhost:6379 ', empty: '  ' });
    expect(md.text('redisHost')).toBe('localhost:6379');
    expect(md.text('REDISHOST')).toBe('localhost:6379');
    expect(md.has('redishost')).toBe(true);
    expect(md.has('empty')).toBe(false);
    expect(md.text('empty', 'dflt')).toBe('dflt');
    expect(md.text('missing')).toBeUndefined();
    expect(md.raw('redisHost')).toBe(' localhost:6379 ');
  });

  it('refuses two keys that differ only by case', () => {
    expect(configError(() => reader({ clientId: 'a', clientID: 'b' })).message).toMatch(/"clientID" and "clientId" are the same field/);
  });

  it('text, required, list and oneOf', () => {
    const md = reader({ brokers: 'a:1, b:2,,', offset: 'OLDEST' });
    expect(md.list('brokers')).toEqual(['a:1', 'b:2']);
    expect(md.list('none')).toEqual([]);
    expect(md.required('brokers')).toBe('a:1, b:2,,');
    expect(md.oneOf('offset', ['newest', 'oldest'] as const, 'newest')).toBe('oldest');
    expect(md.oneOf('other', ['newest', 'oldest'] as const, 'newest')).toBe('newest');
    expect(configError(() => md.required('redisHost', 'host:port')).message).toBe(
      'components/cache.yaml: component "cache": spec.metadata.redisHost: redisHost is required (host:port)',
    );
    expect(configError(() => reader({ offset: 'latest' }).oneOf('offset', ['newest', 'oldest'])).message).toBe(
      'components/cache.yaml: component "cache": spec.metadata.offset: "latest" is not one of newest, oldest',
    );
  });

  it('a missing required field points at a key that looks like a typo of it', () => {
    expect(configError(() => reader({ redisHots: 'localhost:6379' }).required('redisHost')).message).toMatch(
      /spec\.metadata\.redisHost: redisHost is required; spec\.metadata has "redisHots": did you mean redisHost\?/,
    );
  });

  it('int: whole numbers within bounds', () => {
    const md = reader({ db: '3', neg: '-2', bad: '1.5', word: 'ten' });
    expect(md.int('db')).toBe(3);
    expect(md.int('neg')).toBe(-2);
    expect(md.int('missing', 7)).toBe(7);
    expect(md.int('missing')).toBeUndefined();
    expect(configError(() => md.int('bad')).message).toMatch(/spec\.metadata\.bad: "1\.5" is not an integer$/);
    expect(configError(() => md.int('word', 0, { min: 0 })).message).toMatch(/spec\.metadata\.word: "ten" is not an integer >= 0/);
    expect(configError(() => md.int('neg', 0, { min: 0, max: 15 })).message).toMatch(/"-2" is out of range: must be an integer between 0 and 15/);
  });

  it("bool: Dapr's truthy and falsy forms, anything else is an error", () => {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'On', 't', 'y']) expect(reader({ f: yes }).bool('f')).toBe(true);
    for (const no of ['false', 'False', '0', 'no', 'OFF', 'f', 'n']) expect(reader({ f: no }).bool('f', true)).toBe(false);
    expect(reader({}).bool('f', true)).toBe(true);
    expect(reader({}).bool('f')).toBeUndefined();
    expect(configError(() => reader({ enableTLS: 'maybe' }).bool('enableTLS')).message).toMatch(
      /spec\.metadata\.enableTLS: "maybe" is not a boolean; use true or false/,
    );
    expect(isTruthy(' Yes ')).toBe(true);
    expect(isTruthy('nope')).toBe(false);
  });

  it('duration: Go and ISO-8601 durations in milliseconds', () => {
    const md = reader({ a: '500ms', b: '1h30m', c: '2s', d: '1.5h', e: 'PT30S', f: 'P1DT2H', g: '-1s', h: '0', i: '250us' });
    expect(md.duration('a')).toBe(500);
    expect(md.duration('b')).toBe(5_400_000);
    expect(md.duration('c')).toBe(2000);
    expect(md.duration('d')).toBe(5_400_000);
    expect(md.duration('e')).toBe(30_000);
    expect(md.duration('f')).toBe(93_600_000);
    expect(md.duration('g')).toBe(-1000);
    expect(md.duration('h')).toBe(0);
    expect(md.duration('i')).toBe(0.25);
    expect(md.duration('missing', 42)).toBe(42);
  });

  it('duration: a bare integer is seconds (Dapr: toTimeDurationHookFunc), milliseconds only when the field says so', () => {
    const md = reader({ cleanupInterval: '3600', dialTimeout: '5000' });
    expect(md.duration('cleanupInterval')).toBe(3_600_000);
    expect(md.duration('dialTimeout', 0, { bareNumber: 'milliseconds' })).toBe(5000);
    expect(configError(() => reader({ t: '1.5' }).duration('t')).message).toMatch(/"1\.5" is not a duration/);
  });

  it('duration: a bad value or one out of range names the field, the value and the allowed forms', () => {
    expect(configError(() => reader({ timeout: 'soon' }).duration('timeout')).message).toBe(
      'components/cache.yaml: component "cache": spec.metadata.timeout: "soon" is not a duration; ' +
        'use a Go duration such as 500ms, 5s, 1m30s or 1h, an ISO-8601 duration such as PT30S, or a whole number of seconds',
    );
    for (const bad of ['5 s', '5x', 'h', 'PT', '1h-5m']) expect(() => reader({ t: bad }).duration('t')).toThrow(ConfigError);
    expect(configError(() => reader({ t: '-1s' }).duration('t', 0, { min: 0 })).message).toMatch(
      /spec\.metadata\.t: "-1s" is out of range: must be at least 0 ms/,
    );
  });

  it('bytesSize: plain bytes, decimal and binary units', () => {
    const md = reader({ a: '1024', b: '4Mi', c: '1MB', d: '512Ki', e: '2g', f: '0' });
    expect(md.bytesSize('a')).toBe(1024);
    expect(md.bytesSize('b')).toBe(4 * 1024 * 1024);
    expect(md.bytesSize('c')).toBe(1_000_000);
    expect(md.bytesSize('d')).toBe(512 * 1024);
    expect(md.bytesSize('e')).toBe(2e9);
    expect(md.bytesSize('f')).toBe(0);
    expect(md.bytesSize('missing', 9)).toBe(9);
    expect(configError(() => reader({ size: '4 parsecs' }).bytesSize('size')).message).toMatch(
      /spec\.metadata\.size: "4 parsecs" is not a size; use bytes, or a unit such as 512Ki/,
    );
  });

  it('names the field as the user spelled it', () => {
    expect(configError(() => reader({ DialTimeout: 'soon' }).duration('dialTimeout')).message).toMatch(/spec\.metadata\.DialTimeout: "soon"/);
  });

  it('reports the keys never read, except runtime-level and extra known ones', () => {
    const md = reader({ redisHost: 'x:1', redisHots: 'y', keyPrefix: 'none', ACTORSTATESTORE: 'true', extra: '1', declared: '2' });
    md.text('redisHost');
    md.known('declared');
    expect(md.unknownKeys().sort()).toEqual(['extra', 'redisHots']);
    expect(md.unknownKeys(['extra'])).toEqual(['redisHots']);
    expect(RUNTIME_METADATA_KEYS).toEqual(expect.arrayContaining(['keyPrefix', 'actorStateStore', 'direction']));
  });

  it('suggests the closest known key for an unknown one', () => {
    const md = reader({ redisHots: 'y', somethingElse: 'z' });
    md.text('redisHost');
    md.duration('dialTimeout');
    const warnings = md.unknownKeyWarnings();
    expect(warnings).toEqual([
      { key: 'redisHots', suggestion: 'redisHost', message: 'spec.metadata.redisHots is not used by state.redis (ignored); did you mean redisHost?' },
      { key: 'somethingElse', suggestion: undefined, message: 'spec.metadata.somethingElse is not used by state.redis (ignored)' },
    ]);
    expect(closestName('dialtimout', ['redisHost', 'dialTimeout'])).toBe('dialTimeout');
    expect(closestName('xyz', ['redisHost'])).toBeUndefined();
  });

  it('componentInit builds the reader over the metadata', () => {
    const init = componentInit({
      name: 'c',
      type: 'state.sqlite',
      appId: 'app',
      metadata: { TableName: 't' },
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    });
    expect(init.meta.text('tableName')).toBe('t');
    expect(init.meta.context).toEqual({ component: 'c', type: 'state.sqlite', source: '(test)' });
  });
});
