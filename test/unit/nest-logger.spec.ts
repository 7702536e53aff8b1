import { createSidekickLogger } from '../../src/runtime/nest-logger';
import { createPinoLogger, formatPrettyLine, type LineOutput } from '../../src/runtime/logger';
import { resolveLogSettings, resolveOptions } from '../../src/runtime/sidekick.options';

/** An output that keeps the lines written to it. */
function capture(isTTY = false): LineOutput & { text: () => string; records: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  return {
    isTTY,
    write: (line: string) => chunks.push(line),
    text: () => chunks.join(''),
    records: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const TIME = new Date(2026, 11, 1, 5, 39, 35, 974).getTime();

describe('formatPrettyLine: one Nest-like line per pino record', () => {
  it('prints app id, pid, local time, Nest level label, context and message', () => {
    const line = formatPrettyLine(
      { level: 30, time: TIME, appId: 'nodeapp', name: 'nest', context: 'NestFactory', msg: 'Starting Nest application...' },
      { pid: 42 },
    );
    expect(line).toBe('[nodeapp] 42  - 2026-12-01 05:39:35.974     LOG [NestFactory] Starting Nest application...');
  });

  it("uses the logger name as context for Sidekick's records and appends the other fields as key=value", () => {
    const line = formatPrettyLine(
      { level: 40, time: TIME, appId: 'nodeapp', name: 'sidekick', component: 'statestore', file: '/tmp/a b.db', inFlight: 2, meta: { a: 1 }, msg: 'careful' },
      { pid: 7 },
    );
    expect(line).toBe('[nodeapp] 7  - 2026-12-01 05:39:35.974    WARN [sidekick] careful component=statestore file="/tmp/a b.db" inFlight=2 meta={"a":1}');
  });

  it('maps every pino level to Nest labels, prints a string err as a field and an err stack on the next lines', () => {
    const label = (level: number): string => formatPrettyLine({ level, msg: 'm' }, { pid: 1 }).split(/\s+/)[5] ?? '';
    expect([10, 20, 30, 40, 50, 60].map(label)).toEqual(['VERBOSE', 'DEBUG', 'LOG', 'WARN', 'ERROR', 'FATAL']);
    expect(formatPrettyLine({ level: 50, msg: 'failed', err: 'ECONNREFUSED' }, { pid: 1 })).toMatch(/ ERROR failed err=ECONNREFUSED$/);
    expect(formatPrettyLine({ level: 50, msg: 'failed', err: { stack: 'Error: x\n    at f' } }, { pid: 1 })).toMatch(/ failed\nError: x\n {4}at f$/);
  });

  it('colours only when asked, and never empty parts', () => {
    const plain = formatPrettyLine({ level: 30, msg: 'hi' }, { pid: 1 });
    expect(plain).not.toContain('\x1b[');
    const coloured = formatPrettyLine({ level: 30, msg: 'hi', context: 'C' }, { pid: 1, color: true });
    expect(coloured).toContain('\x1b[32m    LOG\x1b[0m');
    expect(coloured).toContain('\x1b[33m[C] \x1b[0m');
    expect(coloured).not.toMatch(/\x1b\[\d+m\x1b\[0m/);
  });
});

describe('createSidekickLogger: Nest LoggerService on pino', () => {
  it("follows Nest's convention: last string is the context, an error's stack is kept, objects and Errors are described", () => {
    const out = capture();
    const logger = createSidekickLogger({ appId: 'orders', format: 'json', level: 'trace', out });
    logger.log('Mapped {/order, GET} route', 'RouterExplorer');
    logger.error('boom', 'Error: boom\n    at x', 'ExceptionsHandler');
    logger.error(new Error('bad'));
    logger.warn({ answer: 42 });
    logger.verbose('v', 'extra', 'Ctx');
    const records = out.records();
    expect(records[0]).toMatchObject({ level: 30, appId: 'orders', name: 'nest', context: 'RouterExplorer', msg: 'Mapped {/order, GET} route' });
    expect(records[1]).toMatchObject({ level: 50, context: 'ExceptionsHandler', msg: 'boom', err: { stack: 'Error: boom\n    at x' } });
    expect(records[2]).toMatchObject({ level: 50, msg: 'bad', err: { type: 'Error', message: 'bad' } });
    expect(records[3]).toMatchObject({ level: 40, msg: '{"answer":42}' });
    expect(records[4]).toMatchObject({ level: 10, context: 'Ctx', params: ['extra'], msg: 'v' });
  });

  it('honours the pino level and setLogLevels', () => {
    const out = capture();
    const logger = createSidekickLogger({ format: 'json', level: 'info', out });
    logger.debug('hidden');
    logger.setLogLevels(['error']);
    logger.log('hidden too');
    logger.error('shown');
    expect(out.records().map((r) => r['msg'])).toEqual(['shown']);
  });

  it("shares one output and one format with Sidekick's logger, in the order of the calls", () => {
    const out = capture();
    const nest = createSidekickLogger({ appId: 'nodeapp', format: 'pretty', out });
    // What createDefaultLogger('nodeapp', 'info', 'pretty') makes, writing to `out` instead of stdout.
    const sidekick = createPinoLogger({ appId: 'nodeapp' }, 'sidekick', { level: 'info', format: 'pretty', out });
    nest.log('Starting Nest application...', 'NestFactory');
    sidekick.info({ component: 'statestore' }, 'component ready');
    nest.log('Nest application successfully started', 'NestApplication');
    const lines = out.text().trim().split('\n');
    expect(lines.map((l) => l.replace(/^\[nodeapp\] \d+ {2}- [\d-]+ [\d:.]+ +/, ''))).toEqual([
      'LOG [NestFactory] Starting Nest application...',
      'LOG [sidekick] component ready component=statestore',
      'LOG [NestApplication] Nest application successfully started',
    ]);
  });

  it('colours the pretty format only on a terminal and when allowed', () => {
    const tty = capture(true);
    createSidekickLogger({ format: 'pretty', color: true, out: tty }).log('x');
    const pipe = capture(false);
    createSidekickLogger({ format: 'pretty', color: true, out: pipe }).log('x');
    const noColor = capture(true);
    createSidekickLogger({ format: 'pretty', out: noColor }, { NO_COLOR: '1' }).log('x');
    expect([tty.text().includes('\x1b['), pipe.text().includes('\x1b['), noColor.text().includes('\x1b[')]).toEqual([true, false, false]);
  });
});

describe('resolveLogSettings / resolveOptions: the logging environment', () => {
  it('pretty by default, json under NODE_ENV=production or SIDEKICK_LOG_FORMAT=json, which wins', () => {
    expect(resolveLogSettings({})).toEqual({ level: 'info', format: 'pretty', color: true });
    expect(resolveLogSettings({ NODE_ENV: 'production' }).format).toBe('json');
    expect(resolveLogSettings({ NODE_ENV: 'production', SIDEKICK_LOG_FORMAT: 'pretty' }).format).toBe('pretty');
    expect(resolveLogSettings({ SIDEKICK_LOG_FORMAT: 'json', SIDEKICK_LOG_LEVEL: 'debug', NO_COLOR: '1' })).toEqual({
      level: 'debug',
      format: 'json',
      color: false,
    });
    expect(() => resolveLogSettings({ SIDEKICK_LOG_FORMAT: 'yaml' })).toThrow('SIDEKICK_LOG_FORMAT: log format "yaml" is not one of pretty, json');
  });

  it('resolveOptions carries them as logLevel, logFormat and logColor', () => {
    const r = resolveOptions({ appId: 'a' }, { SIDEKICK_LOG_FORMAT: 'json', SIDEKICK_LOG_LEVEL: 'warn' });
    expect([r.logLevel, r.logFormat, r.logColor]).toEqual(['warn', 'json', true]);
  });
});
