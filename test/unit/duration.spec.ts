import { parseDuration } from '../../src/config/duration';
import { ConfigError } from '../../src/errors/config.errors';

const at = { file: 'a.yaml', component: 'cache', field: 'spec.initTimeout' };

describe('parseDuration (Go durations, in ms)', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['2h45m10s', 9_910_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
    ['0s', 0],
    ['  7s  ', 7000],
  ])('parses %s as %d ms', (text, ms) => {
    expect(parseDuration(text, at)).toBeCloseTo(ms, 9);
  });

  it('reads a bare whole number as seconds (components-contrib), or as ms where a component says so', () => {
    expect(parseDuration('30', at)).toBe(30_000);
    expect(parseDuration('30', at, 'milliseconds')).toBe(30);
    expect(() => parseDuration('0.25', at)).toThrow(ConfigError); // Dapr's decoder rejects a decimal bare number
  });

  it('reads signed and fractional Go durations and ISO-8601 durations', () => {
    expect(parseDuration('.5s', at)).toBe(500);
    expect(parseDuration('-5s', at)).toBe(-5000);
    expect(parseDuration('PT30S', at)).toBe(30_000);
  });

  it('tells ms from m followed by s', () => {
    expect(parseDuration('1ms', at)).toBe(1);
    expect(parseDuration('1m1s', at)).toBe(61_000);
  });

  it.each(['', '   ', 'soon', '5 s', '5S', '5sec', '1d', 's', '5s junk', '1m 30s', '0.25'])('rejects %j with a ConfigError naming where it was', (text) => {
    let thrown: unknown;
    try {
      parseDuration(text, at);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toBe(
      `a.yaml: component "cache": spec.initTimeout: "${text}" is not a duration; use a Go duration such as 500ms, 5s, 1m30s or 1h, an ISO-8601 duration such as PT30S, or a whole number of seconds`,
    );
    expect((thrown as ConfigError).code).toBe('ERR_CONFIG');
  });

  it('is not thrown off by an earlier failed parse (its global regex is reset)', () => {
    expect(() => parseDuration('1m junk', { field: 'f' })).toThrow(/"1m junk" is not a duration/);
    expect(parseDuration('2m', { field: 'f' })).toBe(120_000);
  });
});
