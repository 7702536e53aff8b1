import { SIDEKICK_ACTIVITY, SIDEKICK_WORKFLOW } from '../../../decorators/constants';
import { ConfigError } from '../../../errors/config.errors';
import { SidekickError } from '../../../errors/sidekick.error';
import type { Discovery } from '../../discovery/sidekick.explorer';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { StateService } from '../state/state.service';
import { runActivity } from './workflow.actions';
import { ActivityQueue } from './workflow.activity-queue';
import { WorkflowClient } from './workflow.client';
import { WorkflowCluster } from './workflow.cluster';
import { type ActivityFn, WorkflowEngine } from './workflow.engine';
import type { WorkflowFn } from './workflow.runner';
import { WorkflowMailbox } from './workflow.mailbox';
import { WorkflowStore } from './workflow.store';
import { workflowRoutes } from './workflow.routes';
import { workflowQueryRoutes } from './workflow-query.routes';

/**
 * Durable workflows: `@Workflow` orchestrators and `@Activity` methods, their history in a state
 * store (the one marked `actorStateStore: "true"`, else `statestore`, else the only one), the
 * `WorkflowClient` and daprd's `/v1.0-beta1/workflows/...` API. Instances left running resume at start.
 */
export const workflowsBlock: BlockDefinition = {
  name: 'workflows',
  create(ctx: BlockContext): BuildingBlock {
    const workflows = new Map<string, WorkflowFn>();
    const activities = new Map<string, ActivityFn>();
    let engine: WorkflowEngine | undefined;
    let cluster: WorkflowCluster | undefined;
    let queue: ActivityQueue | undefined;
    const client = new WorkflowClient(() => {
      if (!engine) throw new SidekickError('ERR_NOT_STARTED', 'workflows are not started yet (the app is still starting)');
      return engine;
    });
    const state = (): StateService => ctx.service(StateService);
    return {
      name: 'workflows',
      services: [client],
      prepare(discovery: Discovery) {
        collect(discovery, SIDEKICK_WORKFLOW, '@Workflow', workflows);
        collect(discovery, SIDEKICK_ACTIVITY, '@Activity', activities);
      },
      async start() {
        let storeName: string | undefined;
        const store = new WorkflowStore(state(), () => (storeName ??= pickStore(ctx, state().storeNames())));
        const logger = ctx.logger.child({ block: 'workflows' });
        const mailbox = new WorkflowMailbox(
          state(),
          () => store.storeName,
          (id) => store.record(id),
        );
        engine = new WorkflowEngine(store, workflows, activities, ctx.clock, logger, mailbox);
        if (workflows.size === 0) return;
        const { leaseMs, pollMs } = ctx.options.workflows;
        const joined = new WorkflowCluster(engine, store, mailbox, state(), leaseMs, pollMs, logger);
        cluster = joined;
        if (ctx.options.workflows.activities === 'shared') {
          const driver = engine;
          queue = new ActivityQueue(
            state(),
            () => store.storeName,
            {
              self: () => joined.ownership.id,
              live: () => joined.ownership.live,
              deliver: (inst, item) => driver.deliver(inst, item),
              run: (instanceId, action) => runActivity(activities, ctx.clock, instanceId, action),
            },
            pollMs,
            logger,
          );
          engine.remote = queue;
          queue.start();
        }
        const resumed = await joined.start();
        ctx.logger.info(
          { store: store.storeName, workflows: [...workflows.keys()], activities: [...activities.keys()], resumed, member: cluster.ownership.id },
          'workflows started',
        );
      },
      async stop(deadline) {
        await engine?.stop(deadline.remainingMs());
        await queue?.stop();
        await cluster?.stop();
      },
      routes: () => [...workflowRoutes(client), ...workflowQueryRoutes(client)],
      metadata: () =>
        workflows.size === 0 && activities.size === 0
          ? {}
          : { workflows: { connectedWorkers: engine ? 1 : 0, workflows: [...workflows.keys()], activities: [...activities.keys()] } },
    };
  },
};

function collect<F>(discovery: Discovery, key: string, decorator: string, into: Map<string, F>): void {
  const owners = new Map<string, string>();
  for (const m of discovery.methodsWith<string>(key, decorator)) {
    const owner = owners.get(m.metadata);
    if (owner !== undefined)
      throw new ConfigError(`${decorator}("${m.metadata}") on ${m.name}: the name is already registered by ${owner}; names must be unique`);
    owners.set(m.metadata, m.name);
    const method = (m.instance as Record<string, (...args: unknown[]) => unknown>)[m.methodName];
    if (typeof method !== 'function') continue;
    into.set(m.metadata, method.bind(m.instance) as F);
  }
}

function pickStore(ctx: BlockContext, names: readonly string[]): string {
  const marked = ctx.components
    .list()
    .filter((c) => c.spec.kind === 'state' && Object.entries(c.metadata).some(([k, v]) => k.toLowerCase() === 'actorstatestore' && v.toLowerCase() === 'true'))
    .map((c) => c.spec.name);
  const chosen = marked[0] ?? (names.includes('statestore') ? 'statestore' : names.length === 1 ? names[0] : undefined);
  if (chosen === undefined) {
    throw new ConfigError(
      `workflows need a state store for their history: mark one with metadata actorStateStore: "true" (configured state stores: ${names.join(', ') || 'none'})`,
    );
  }
  return chosen;
}
