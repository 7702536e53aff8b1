import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRunFile } from '../../src/cli/run/run-file';
import { bodyLimit, headerLimit, parseChannelAddress, parseConcurrency, parseListenAddresses, parseSize } from '../../src/cli/run/run-flags';
import { tempDir } from '../support/app';

describe("sidekick run's daprd flag values", () => {
  it('reads sizes as daprd does (Kubernetes quantities: bytes, binary and decimal suffixes, exponents)', () => {
    expect(parseSize('4194304', '--max-body-size')).toBe(4 * 2 ** 20);
    expect(parseSize('4Mi', '--max-body-size')).toBe(4 * 2 ** 20);
    expect(parseSize('512Ki', '--max-body-size')).toBe(512 * 1024);
    expect(parseSize('1Gi', '--max-body-size')).toBe(2 ** 30);
    expect(parseSize('8M', '--max-body-size')).toBe(8_000_000);
    expect(parseSize('4k', '--max-body-size')).toBe(4000);
    expect(parseSize('1.5Mi', '--max-body-size')).toBe(1.5 * 2 ** 20);
    expect(parseSize('4e6', '--max-body-size')).toBe(4_000_000);
    expect(parseSize('-1', '--max-body-size')).toBe(-1);
    for (const bad of ['4MB', '4 Mi', 'Mi', 'bad', '', '4mi', '0x10'])
      expect(() => parseSize(bad, '--max-body-size')).toThrow(`--max-body-size "${bad}" is not a size: write bytes (4194304) or a number with a unit`);
  });

  it('--max-body-size wins over the deprecated --dapr-http-max-request-size (MB); 0 or negative lifts the limit', () => {
    expect(bodyLimit(undefined, undefined)).toBeUndefined();
    expect(bodyLimit(undefined, '8')).toBe(8 * 2 ** 20);
    expect(bodyLimit('1Mi', '8')).toBe(2 ** 20);
    expect(bodyLimit('0', undefined)).toBe(-1);
    expect(bodyLimit(undefined, '-1')).toBe(-1);
    expect(() => bodyLimit(undefined, '1.5')).toThrow('--dapr-http-max-request-size "1.5" is not a whole number of MB');
  });

  it('--read-buffer-size wins over the deprecated --dapr-http-read-buffer-size (KB); 0 or negative keeps the default', () => {
    expect(headerLimit(undefined, undefined)).toBeUndefined();
    expect(headerLimit(undefined, '16')).toBe(16 * 1024);
    expect(headerLimit('4Ki', '16')).toBe(4096);
    expect(headerLimit('-1', undefined)).toBeUndefined();
    expect(() => headerLimit(undefined, 'x')).toThrow('--dapr-http-read-buffer-size "x" is not a whole number of KB');
  });

  it('--app-max-concurrency: a whole number from 1, or -1 (daprd default) for no limit', () => {
    expect(parseConcurrency('3')).toBe(3);
    expect(parseConcurrency('-1')).toBeUndefined();
    for (const bad of ['0', '-2', '1.5', 'many', ''])
      expect(() => parseConcurrency(bad)).toThrow(`--app-max-concurrency "${bad}" must be a whole number from 1 up`);
  });

  it('--dapr-listen-addresses: comma-separated IPs; --app-channel-address: an IP or host name', () => {
    expect(parseListenAddresses('0.0.0.0, [::1],0.0.0.0')).toEqual(['0.0.0.0', '::1']);
    expect(parseListenAddresses('localhost')).toEqual(['localhost']);
    expect(() => parseListenAddresses('127.0.0.1,my-host')).toThrow('"my-host" is not an IP address');
    expect(() => parseListenAddresses(' , ')).toThrow('names no address');
    expect(parseChannelAddress('127.0.0.3')).toBe('127.0.0.3');
    expect(parseChannelAddress('[::1]')).toBe('::1');
    expect(parseChannelAddress('app.internal')).toBe('app.internal');
    expect(() => parseChannelAddress('http://x')).toThrow('--app-channel-address "http://x" is not a host');
  });

  it("reads the run file's fields (appMaxConcurrency, maxBodySize, readBufferSize, apiListenAddresses, appChannelAddress, and the older MB/KB ones)", () => {
    const dir = tempDir('sidekick-runflags-unit-');
    mkdirSync(join(dir, 'a'));
    writeFileSync(
      join(dir, 'dapr.yaml'),
      `version: 1
common:
  appMaxConcurrency: 5
apps:
  - appID: one
    appDirPath: ./a
    command: ["node", "app.js"]
    maxBodySize: 16Mi
    readBufferSize: 8Ki
    apiListenAddresses: 127.0.0.1,::1
    appChannelAddress: 127.0.0.3
  - appID: two
    appDirPath: ./a
    command: ["node", "app.js"]
    appMaxConcurrency: -1
    daprHTTPMaxRequestSize: 2
    daprHTTPReadBufferSize: 32
`,
    );
    const { apps } = readRunFile(dir);
    expect(apps[0]).toEqual(
      expect.objectContaining({
        maxConcurrency: 5,
        maxBodyBytes: 16 * 2 ** 20,
        maxHeaderBytes: 8 * 1024,
        listenAddresses: ['127.0.0.1', '::1'],
        appChannelAddress: '127.0.0.3',
        ignored: [],
      }),
    );
    expect(apps[1]).toEqual(expect.objectContaining({ maxConcurrency: undefined, maxBodyBytes: 2 * 2 ** 20, maxHeaderBytes: 32 * 1024, ignored: [] }));
  });

  it('names the file, the app and the field of a bad run-file value', () => {
    const dir = tempDir('sidekick-runflags-unit-');
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'dapr.yaml'), `version: 1\napps:\n  - appID: one\n    appDirPath: ./a\n    command: node app.js\n    appMaxConcurrency: 0\n`);
    expect(() => readRunFile(dir)).toThrow(`${join(dir, 'dapr.yaml')}: apps[0] (one): appMaxConcurrency "0" must be a whole number from 1 up`);
  });
});
