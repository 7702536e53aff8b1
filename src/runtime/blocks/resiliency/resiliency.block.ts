import { errorMessage } from '../../../errors/sidekick.error';
import { loadResiliency } from '../../../config/resiliency.loader';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { MetricsService } from '../metrics/metrics.service';
import { resiliencyInterceptor } from './resiliency.interceptor';
import { ResiliencyService } from './resiliency.service';

/**
 * Resiliency: the `kind: Resiliency` documents of the resources path (scoped to this app) as one
 * policy interceptor (timeouts, retries, circuit breakers per target app and component, Dapr's
 * default policies). Installed only when a document applies. Each activation is counted in
 * `dapr_resiliency_activations_total` and added as an event to the active span (a no-op unless
 * tracing is on).
 */
export const resiliencyBlock: BlockDefinition = {
  name: 'resiliency',
  create(ctx: BlockContext): BuildingBlock {
    const logger = ctx.logger.child({ block: 'resiliency' });
    const service = new ResiliencyService(ctx.clock, logger, ctx.service(MetricsService));
    // The OpenTelemetry API (~25 ms to load) only for apps with a Resiliency document, loaded while they start.
    let otel: typeof import('@opentelemetry/api') | undefined;
    service.onActivation((labels, detail) => {
      otel?.trace.getActiveSpan()?.addEvent(`dapr.resiliency.${labels.policy}`, {
        'dapr.resiliency.name': labels.name,
        'dapr.resiliency.target': labels.target,
        'dapr.resiliency.direction': labels.direction,
        ...(labels.status ? { 'dapr.resiliency.status': labels.status } : {}),
        ...detail,
      });
    });
    return {
      name: 'resiliency',
      services: [service],
      interceptors() {
        service.load(loadResiliency(ctx.components.otherDocuments, ctx.appId, logger));
        if (!service.active) return [];
        import('@opentelemetry/api').then(
          (api) => void (otel = api),
          (err: unknown) => logger.warn({ err: errorMessage(err) }, 'resiliency activations are not added to spans: @opentelemetry/api failed to load'),
        );
        return [resiliencyInterceptor(service)];
      },
    };
  },
};
