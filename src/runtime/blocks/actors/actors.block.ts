import { SIDEKICK_ACTOR } from '../../../decorators/constants';
import type { ActorMetadata } from '../../../decorators/actor.decorator';
import { ConfigError } from '../../../errors/config.errors';
import type { StateStore } from '../../../spi/state.store';
import { AppChannel } from '../../app-channel/app-channel';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { actorMethodNames } from './abstract-actor';
import { classActorType } from './actor-host';
import { parseDurationMs } from './actor-schedule';
import { ActorStore } from './actor-store';
import { actorsRoutes } from './actors.routes';
import { hostAppActors } from './remote-actor-host';
import { ActorsService } from './actors.service';
import { ActorPlacement } from './placement';
import { ReminderScheduler } from './reminders';

const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60_000;
const DEFAULT_MAX_STACK_DEPTH = 32;

/** Virtual actors: `@Actor` classes, `/v1.0/actors/...`, timers and reminders in the actor state store. */
export const actorsBlock: BlockDefinition = {
  name: 'actors',
  create(ctx: BlockContext): BuildingBlock {
    const settings = ctx.options.actors;
    const service = new ActorsService(ctx.clock, ctx.logger.child({ block: 'actors' }), { ...settings, placementLeaseMs: settings.placement.leaseMs });
    let placement: ActorPlacement | undefined;
    let reminders: ReminderScheduler | undefined;
    // Sidecar mode: the app's actor types come from its `GET /dapr/config` once it is ready.
    const channel = ctx.options.appChannel ? ctx.service(AppChannel) : undefined;
    let fromApp: { cancel(): Promise<void> } | undefined;
    const scheduler = (): ReminderScheduler => {
      if (!reminders) throw new ConfigError('the actor runtime has no actor state store: mark one state store actorStateStore: "true"');
      return reminders;
    };
    return {
      name: 'actors',
      services: [service],
      prepare(discovery) {
        for (const found of discovery.classesWith<ActorMetadata>(SIDEKICK_ACTOR)) {
          const meta = found.metadata;
          if (service.typeNames().includes(meta.type)) throw new ConfigError(`@Actor type "${meta.type}" is declared twice (again by ${found.name})`);
          service.register(
            classActorType({
              type: meta.type,
              className: found.name,
              methods: new Set(actorMethodNames(found.metatype as unknown as { prototype: object })),
              idleTimeoutMs: idleTimeout(meta, found.name),
              reentrant: meta.reentrancy?.enabled ?? false,
              maxStackDepth: meta.reentrancy?.maxStackDepth ?? DEFAULT_MAX_STACK_DEPTH,
              create: () => found.create(),
            }),
          );
        }
        const store = actorStateStore(ctx, service.typeNames());
        if (store) {
          reminders = new ReminderScheduler(
            store,
            ctx.clock,
            ctx.logger.child({ block: 'actors' }),
            (type, id, name, data, schedule) => service.fireReminder(type, id, name, data, schedule),
            settings.reminderFlushMs,
          );
          service.attach(store, reminders);
          if (settings.placement.enabled && (service.typeNames().length > 0 || channel)) {
            placement = new ActorPlacement(
              store,
              settings.placement.leaseMs,
              () => {
                const address = ctx.host.apiAddress();
                return address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : undefined;
              },
              ctx.logger.child({ block: 'actors' }),
              () => reminders?.resync(),
              () => void service.rebalance().catch((err: unknown) => ctx.logger.warn({ err: String(err) }, 'actor rebalancing failed')),
            );
            service.attachPlacement(placement);
            reminders.setOwnership((type, id) => service.owns(type, id));
          }
        }
      },
      async start() {
        if (placement && !ctx.options.httpApi.enabled) throw new ConfigError('actor placement forwards calls through the Dapr HTTP API: enable httpApi');
        placement?.start();
        await reminders?.start(service.typeNames());
        service.start();
        if (channel) {
          fromApp = hostAppActors(channel, service, () => reminders, ctx.logger.child({ block: 'actors' }));
        }
      },
      async stop(deadline) {
        await fromApp?.cancel();
        // A graceful leave: route this instance's ids elsewhere first, then deactivate (releasing each
        // actor's owner record, which lets its new owner take it), then leave the membership table, and
        // keep the HTTP API open (answering forwarded calls "moving, did not run") until every peer has
        // read that this instance left, so that closing its connections cuts no call a peer is sending.
        const started = Date.now();
        await placement?.beginLeaving();
        await service.stop();
        await reminders?.stop();
        await placement?.stop();
        if (!placement) return;
        const left = Date.now();
        const waitedMs = await placement.awaitPeersLetGo(deadline.at);
        ctx.logger.info({ block: 'actors', deactivatedMs: left - started, waitedMs }, 'actor placement: left; every live member has read it');
      },
      routes: () => actorsRoutes(service, scheduler),
      metadata: () => {
        const counts = service.counts();
        return counts.length === 0
          ? {}
          : {
              actors: counts,
              actorRuntime: {
                runtimeStatus: 'RUNNING',
                activeActors: counts,
                hostReady: true,
                placement: placement ? `membership table: ${placement.members().length} live instances` : 'in-process (single instance)',
              },
            };
      },
    };
  },
};

function idleTimeout(meta: ActorMetadata, className: string): number {
  const value = meta.idleTimeout;
  if (value === undefined) return DEFAULT_IDLE_TIMEOUT_MS;
  const ms = typeof value === 'number' ? value : parseDurationMs(value.trim());
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new ConfigError(
      `@Actor({ type: "${meta.type}" }) on ${className}: idleTimeout "${String(value)}" is not a positive duration; use ms or a duration such as "30m" or "PT30M"`,
      {
        field: 'idleTimeout',
      },
    );
  }
  return ms;
}

/** The one state store marked `actorStateStore: "true"` (it must be transactional), or undefined when no actor type needs one. */
function actorStateStore(ctx: BlockContext, types: readonly string[]): ActorStore | undefined {
  const marked = ctx.components
    .listInstances('state')
    .filter((c) => Object.entries(c.metadata).some(([k, v]) => k.toLowerCase() === 'actorstatestore' && v.trim().toLowerCase() === 'true'));
  if (marked.length === 0) {
    if (types.length === 0) return undefined;
    throw new ConfigError(
      `actor types ${types.join(', ')} need an actor state store, and no state store is marked actorStateStore: "true"; add the metadata item { name: actorStateStore, value: "true" } to one transactional state store (the embedded default SQLite store has it)`,
      { field: 'spec.metadata.actorStateStore' },
    );
  }
  if (marked.length > 1) {
    throw new ConfigError(`only one state store may be the actor state store; marked actorStateStore: "true": ${marked.map((c) => c.name).join(', ')}`, {
      component: marked[1]?.name,
      field: 'spec.metadata.actorStateStore',
    });
  }
  const chosen = marked[0] as (typeof marked)[number];
  const store = chosen.instance as StateStore;
  if (!store.features.includes('TRANSACTIONAL')) {
    throw new ConfigError(
      `state store ${chosen.name} is marked actorStateStore: "true" but does not support transactions; actor state needs a transactional store`,
      {
        component: chosen.name,
        field: 'spec.metadata.actorStateStore',
      },
    );
  }
  return new ActorStore(chosen.name, store, ctx.appId);
}
