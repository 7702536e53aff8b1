import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { resolveTracingSetup } from './tracing.settings';
import { TracingService } from './tracing.service';

/**
 * Distributed tracing (first in the block list: its interceptor is the outermost, so a span covers
 * the retries and the time policies add). Off unless the Configuration has `spec.tracing` or an OTLP
 * endpoint is set in the environment; then the OpenTelemetry SDK is loaded (only then), each
 * intercepted call gets a span, and the Nest middleware makes the server span of the app's own
 * requests (`TracingService.handleIncoming`).
 */
export const tracingBlock: BlockDefinition = {
  name: 'tracing',
  create(ctx: BlockContext): BuildingBlock {
    const service = new TracingService(ctx.appId);
    return {
      name: 'tracing',
      services: [service],
      interceptors() {
        const configuration = ctx.configuration();
        const setup = resolveTracingSetup(configuration.tracing, process.env, configuration.source);
        if (!setup) return [];
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK loads only for apps that trace
        const { startTracingSdk } = require('./tracing.sdk') as typeof import('./tracing.sdk');
        service.attach(startTracingSdk(ctx.appId, setup, ctx.logger), setup.samplingRate);
        ctx.logger.info(
          {
            samplingRate: setup.samplingRate,
            ...(setup.zipkin ? { zipkin: setup.zipkin } : {}),
            ...(setup.otlp ? { otlp: setup.otlp } : {}),
            ...(setup.stdout ? { stdout: true } : {}),
          },
          'tracing on',
        );
        return [service.interceptor()];
      },
      async stop() {
        // Last to stop (first in the list): the spans of the other blocks' shutdown are exported too.
        await service.shutdown();
      },
    };
  },
};
