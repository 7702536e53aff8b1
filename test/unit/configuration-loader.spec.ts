import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadResourcesDir } from '../../src/config/component.loader';
import { DEFAULT_SAMPLING_RATE, resolveConfiguration } from '../../src/config/configuration.loader';
import { ConfigError } from '../../src/errors';
import { tempDir } from '../support/app';
import { captureLogs } from '../support/logger';

const TRACING = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: appconfig
spec:
  tracing:
    samplingRate: "1"
    zipkin:
      endpointAddress: http://127.0.0.1:9411/api/v2/spans
  metric:
    enabled: false
    http:
      pathMatching: ["/orders/{id}"]
  features:
    - name: Resiliency
      enabled: true
  secrets:
    scopes:
      - storeName: localsecretstore
        defaultAccess: deny
        allowedSecrets: ["db-password"]
`;

function dirWith(files: Record<string, string>): string {
  const dir = tempDir('sidekick-config-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function fromDir(files: Record<string, string>, config?: string) {
  const log = captureLogs();
  const docs = loadResourcesDir(dirWith(files), true).others;
  return { config: resolveConfiguration({ config, resourceDocuments: docs }, log), log };
}

describe('Configuration loading', () => {
  it('reads tracing, metric, features and secret scopes from a Configuration in the resources path', () => {
    const { config } = fromDir({ 'config.yaml': TRACING });
    expect(config.name).toBe('appconfig');
    expect(config.tracing).toEqual({ samplingRate: 1, stdout: false, zipkin: { endpointAddress: 'http://127.0.0.1:9411/api/v2/spans' }, otel: undefined });
    expect(config.metric.enabled).toBe(false);
    expect(config.metric.http.pathMatching).toEqual(['/orders/{id}']);
    expect(config.features.get('Resiliency')).toBe(true);
    expect(config.secretScopes).toEqual([{ storeName: 'localsecretstore', defaultAccess: 'deny', allowedSecrets: ['db-password'], deniedSecrets: [] }]);
  });

  it('has no tracing and Dapr defaults when the app has no Configuration', () => {
    const { config } = fromDir({});
    expect(config.source).toBe('(none)');
    expect(config.tracing).toBeUndefined();
    expect(config.metric.enabled).toBeUndefined();
    expect(config.secretScopes).toEqual([]);
  });

  it("applies Dapr's default sampling rate when tracing has none, and otel defaults", () => {
    const log = captureLogs();
    const config = resolveConfiguration({ config: { tracing: { otel: { endpointAddress: '127.0.0.1:4318' } } }, resourceDocuments: [] }, log);
    expect(config.source).toBe('(inline)');
    expect(config.tracing?.samplingRate).toBe(DEFAULT_SAMPLING_RATE);
    expect(config.tracing?.otel).toEqual({ endpointAddress: '127.0.0.1:4318', isSecure: false, protocol: 'http' });
  });

  it('reads an explicit file and ignores (with a warning) the one in the resources path', () => {
    const file = join(dirWith({ 'tracing.yaml': TRACING.replace('"1"', '"0.5"') }), 'tracing.yaml');
    const { config, log } = fromDir({ 'config.yaml': TRACING }, file);
    expect(config.tracing?.samplingRate).toBe(0.5);
    expect(log.find({ level: 'warn', text: 'is ignored' })).toHaveLength(1);
  });

  it('warns about a misspelt field with the closest name, and notes Dapr sections Sidekick does not use', () => {
    const { log } = fromDir({
      'config.yaml': `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: { name: c }
spec:
  tracing:
    samplingRate: "1"
    zipkn: { endpointAddress: http://x }
  mtls: { enabled: true }
`,
    });
    const warn = log.find({ level: 'warn' });
    expect(warn.map((l) => l.msg)).toEqual(['spec.tracing.zipkn is not a Configuration field (ignored); did you mean zipkin?']);
    expect(log.find({ level: 'info', text: 'spec.mtls is not used by Sidekick' })).toHaveLength(1);
  });

  it.each([
    ['a sampling rate out of range', 'tracing:\n    samplingRate: "2"', 'samplingRate must be a number from 0 to 1'],
    ['an unknown otel protocol', 'tracing:\n    otel: { endpointAddress: x, protocol: udp }', 'otel.protocol must be http or grpc'],
    ['a bad defaultAccess', 'secrets:\n    scopes: [{ storeName: s, defaultAccess: maybe }]', 'use allow or deny'],
  ])('rejects %s, naming the file and the field', (_what, spec, message) => {
    const body = `apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: { name: c }\nspec:\n  ${spec}\n`;
    expect(() => fromDir({ 'config.yaml': body })).toThrow(ConfigError);
    expect(() => fromDir({ 'config.yaml': body })).toThrow(new RegExp(`config.yaml.*${message}`));
  });

  it('rejects two Configurations in the resources path, naming both files', () => {
    expect(() => fromDir({ 'a.yaml': TRACING, 'b.yaml': TRACING })).toThrow(/two kind: Configuration documents \(.*a\.yaml and .*b\.yaml\)/);
  });

  it('rejects a config path that does not exist, saying which option sets it', () => {
    expect(() => fromDir({}, '/nowhere/config.yaml')).toThrow(/Configuration file \/nowhere\/config.yaml does not exist.*--config/);
  });
});
