import { DEFAULT_SAMPLING_RATE, type TracingSettings } from '../../../config/configuration.loader';
import { ConfigError } from '../../../errors/config.errors';

/** What the SDK is started with: exporters as full URLs. */
export interface TracingSetup {
  readonly samplingRate: number;
  readonly stdout: boolean;
  /** Zipkin's span endpoint (`http://127.0.0.1:9411/api/v2/spans`). */
  readonly zipkin?: string;
  /** OTLP/HTTP traces endpoint (`http://127.0.0.1:4318/v1/traces`). */
  readonly otlp?: string;
}

/**
 * Tracing is on when the Configuration has `spec.tracing`, or when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, as daprd: the variable adds an OTLP/HTTP exporter.
 * With the variable alone the sampling rate is Dapr's default (0.0001) unless `OTEL_TRACES_SAMPLER_ARG`
 * gives one. Undefined: no tracing (nothing of the SDK is loaded).
 */
export function resolveTracingSetup(tracing: TracingSettings | undefined, env: NodeJS.ProcessEnv, source: string): TracingSetup | undefined {
  const envTraces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const envBase = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const envOtlp = envTraces ? envTraces : envBase ? `${envBase.replace(/\/+$/, '')}/v1/traces` : undefined;
  if (!tracing && !envOtlp) return undefined;
  let otlp: string | undefined;
  if (tracing?.otel) {
    const { endpointAddress, isSecure, protocol } = tracing.otel;
    if (protocol === 'grpc') {
      throw new ConfigError(
        'spec.tracing.otel.protocol "grpc" is not supported: Sidekick exports OTLP over HTTP. Set protocol: http and point endpointAddress at the collector\'s OTLP/HTTP port (4318)',
        { file: source },
      );
    }
    otlp = otlpUrl(endpointAddress, isSecure);
  }
  const rateArg = Number(env['OTEL_TRACES_SAMPLER_ARG']);
  const envRate = Number.isFinite(rateArg) && rateArg >= 0 && rateArg <= 1 && env['OTEL_TRACES_SAMPLER_ARG'] !== undefined ? rateArg : undefined;
  return {
    samplingRate: tracing?.samplingRate ?? envRate ?? DEFAULT_SAMPLING_RATE,
    stdout: tracing?.stdout ?? false,
    zipkin: tracing?.zipkin?.endpointAddress,
    otlp: otlp ?? envOtlp,
  };
}

/** Dapr's `otel.endpointAddress` is `host:port` (the scheme from `isSecure`); a full URL is taken as given, `/v1/traces` added when it has no path. */
export function otlpUrl(address: string, isSecure: boolean): string {
  const withScheme = /^https?:\/\//i.test(address) ? address : `${isSecure ? 'https' : 'http'}://${address}`;
  const url = new URL(withScheme);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}
