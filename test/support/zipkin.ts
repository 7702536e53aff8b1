import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './app';
import { zipkinUrl } from './services';

/** A span as Zipkin's v2 API returns it. */
export interface ZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly name: string;
  readonly kind?: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';
  readonly localEndpoint?: { readonly serviceName?: string };
  readonly tags?: Readonly<Record<string, string>>;
}

/** A `kind: Configuration` file tracing everything to the test's Zipkin (for SIDEKICK_CONFIG). */
export function zipkinConfigFile(extra = ''): string {
  const file = join(tempDir('sidekick-zipkin-config-'), 'config.yaml');
  writeFileSync(
    file,
    `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: tracing
spec:
  tracing:
    samplingRate: "1"
    zipkin:
      endpointAddress: ${zipkinUrl()}/api/v2/spans
${extra}`,
  );
  return file;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${zipkinUrl()}${path}`);
  if (!res.ok) throw new Error(`GET ${path} from Zipkin answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** The traces of `serviceName` since `sinceMs` (epoch ms), optionally only those with a span named `spanName`. */
export function tracesSince(serviceName: string, sinceMs: number, spanName?: string): Promise<ZipkinSpan[][]> {
  const now = Date.now() + 1000;
  const query = new URLSearchParams({ serviceName, endTs: String(now), lookback: String(now - sinceMs + 1000), limit: '100' });
  if (spanName) query.set('spanName', spanName.toLowerCase());
  return getJson<ZipkinSpan[][]>(`/api/v2/traces?${query.toString()}`);
}

/** One trace by id. */
export function traceById(traceId: string): Promise<ZipkinSpan[]> {
  return getJson<ZipkinSpan[]>(`/api/v2/trace/${traceId}`);
}

/** Polls until `done(trace)` holds for the trace (exporters batch every 500 ms); returns it. */
export async function waitForTrace(
  find: () => Promise<ZipkinSpan[] | undefined>,
  done: (trace: ZipkinSpan[]) => boolean,
  timeoutMs = 20_000,
): Promise<ZipkinSpan[]> {
  const deadline = Date.now() + timeoutMs;
  let last: ZipkinSpan[] | undefined;
  while (Date.now() < deadline) {
    last = await find();
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(
    `Zipkin did not return the expected trace within ${timeoutMs} ms; last: ${JSON.stringify(last?.map((s) => [s.localEndpoint?.serviceName, s.name, s.id, s.parentId]))}`,
  );
}

/** The span named `name` (Zipkin lowercases names) of `service`, or an error listing the trace. */
export function spanNamed(trace: readonly ZipkinSpan[], name: string, service?: string): ZipkinSpan {
  const found = trace.find((s) => s.name === name.toLowerCase() && (service === undefined || s.localEndpoint?.serviceName === service));
  if (!found)
    throw new Error(`no span "${name}"${service ? ` of ${service}` : ''} in ${JSON.stringify(trace.map((s) => [s.localEndpoint?.serviceName, s.name]))}`);
  return found;
}
