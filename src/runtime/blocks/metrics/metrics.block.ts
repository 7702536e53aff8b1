import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { HttpPathLabeler } from './http-path';
import { metricsInterceptor } from './metrics.interceptor';
import { MetricsService } from './metrics.service';

/**
 * Metrics: Prometheus metrics named and labelled as daprd's, collected at the interception seam
 * and served on `GET /metrics` (default 127.0.0.1:9090). On by default, as in daprd; off with the
 * `metrics.enabled: false` option, `SIDEKICK_METRICS_ENABLED=false` or the Configuration's
 * `spec.metric.enabled: false` (then no interceptor is installed at all). Publishes `MetricsService`,
 * which the resiliency block records its activations through.
 */
export const metricsBlock: BlockDefinition = {
  name: 'metrics',
  create(ctx: BlockContext): BuildingBlock {
    const service = new MetricsService(ctx.appId, ctx.options.namespace, ctx.options.metrics, ctx.logger.child({ block: 'metrics' }));
    return {
      name: 'metrics',
      services: [service],
      interceptors() {
        const settings = ctx.configuration().metric;
        const dapr = service.enable(settings);
        if (!dapr) return [];
        let known: ReadonlySet<string> | undefined; // components are all loaded before the HTTP API serves
        const names = (): ReadonlySet<string> => (known ??= new Set(ctx.components.list().map((c) => c.spec.name)));
        return [metricsInterceptor(dapr, service.baseLabels, ctx.appId, settings, new HttpPathLabeler(settings.http, names))];
      },
      async start() {
        service.componentsLoaded(ctx.components.list().map((c) => c.spec.name));
        await service.listen();
      },
      stop: () => service.close(),
    };
  },
};
