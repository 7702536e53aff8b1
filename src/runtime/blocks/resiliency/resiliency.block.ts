import { trace } from '@opentelemetry/api';
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
    service.onActivation((labels, detail) => {
      trace.getActiveSpan()?.addEvent(`dapr.resiliency.${labels.policy}`, {
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
        return service.active ? [resiliencyInterceptor(service)] : [];
      },
    };
  },
};
