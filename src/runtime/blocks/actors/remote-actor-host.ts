import { ActorError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { SidekickLogger } from '../../../spi/logger';
import type { AppActorType } from '../../app-channel/app-actors';
import type { AppChannel } from '../../app-channel/app-channel';
import type { InvokeResponse } from '../invoke/invoke.types';
import { type ActorInstance, type ActorTypeInfo, type FiringOutcome, RawActorCall, RawActorReply, type ReminderFiring, type TimerFiring } from './actor-host';
import type { ActorsService } from './actors.service';
import type { ReminderScheduler } from './reminders';
import { currentChain } from './turns';

/**
 * Sidecar mode: once the app is ready, reads its `GET /dapr/config` and hosts its actor types (their
 * reminders loaded and armed, the idle scan at the app's `actorScanInterval`). Calls arriving before
 * wait for it (up to the turn timeout). `cancel()` stops waiting (shutdown).
 */
export function hostAppActors(
  channel: AppChannel,
  service: ActorsService,
  reminders: () => ReminderScheduler | undefined,
  logger: SidekickLogger,
): { cancel(): Promise<void> } {
  let arrived: () => void = () => undefined;
  service.typesArriving(new Promise<void>((ok) => (arrived = ok)));
  const task = channel.afterReady("reading the app's actor types (GET /dapr/config)", async () => {
    try {
      const config = await channel.config();
      if (!config) return;
      for (const problem of config.problems) logger.warn({ appUrl: channel.url }, problem);
      const added = config.types.filter((type) => {
        if (!service.typeNames().includes(type.type)) return true;
        logger.warn({ actorType: type.type }, `the app's actor type "${type.type}" is already registered: the app's is ignored`);
        return false;
      });
      if (added.length === 0) return;
      const names = added.map((t) => t.type);
      const scheduler = reminders();
      if (!scheduler) {
        logger.error(
          { actorTypes: names },
          `the app hosts actor types ${names.join(', ')}, and no state store is marked actorStateStore: "true": their calls fail until one transactional state store in --resources-path has the metadata item { name: actorStateStore, value: "true" }`,
        );
        for (const type of added) service.register(appActorType(type, channel));
        return;
      }
      // Reminders first: once a type is registered, its actors may register reminders.
      await scheduler.host(names);
      for (const type of added) service.register(appActorType(type, channel));
      if (config.scanIntervalMs !== undefined) service.setScanInterval(config.scanIntervalMs);
      logger.info(
        { actorTypes: names, idleTimeoutMs: added.map((t) => t.idleTimeoutMs), scanIntervalMs: config.scanIntervalMs },
        "hosting the app's actor types: calls go to its /actors/... endpoints",
      );
    } finally {
      arrived();
    }
  });
  return {
    cancel: async () => {
      arrived();
      await task.cancel();
    },
  };
}

/**
 * An actor type of the app behind the sidecar (sidecar mode), driven through the app's actor HTTP
 * contract as daprd drives it: method calls `PUT /actors/{type}/{id}/method/{method}`, reminders
 * `PUT .../method/remind/{name}`, timers `PUT .../method/timer/{name}`, deactivation
 * `DELETE /actors/{type}/{id}`. Turns, state, timers, reminders and placement stay the runtime's.
 */
export function appActorType(config: AppActorType, channel: AppChannel): ActorTypeInfo {
  return {
    type: config.type,
    className: `the app at ${channel.url}`,
    idleTimeoutMs: config.idleTimeoutMs,
    reentrant: config.reentrant,
    maxStackDepth: config.maxStackDepth,
    drainMs: config.drainRebalancedActors ? config.drainOngoingCallTimeoutMs : 0,
    host: 'app',
    activate: (context) => Promise.resolve(new AppActorInstance(channel, context.type, context.id, config.reentrant)),
  };
}

/** A header value counts as true as in daprd (`true`, `1`, `yes`, `on`, `y`). */
const truthy = (value: string | string[] | undefined): boolean => /^(true|1|yes|on|y)$/i.test((Array.isArray(value) ? value[0] : value)?.trim() ?? '');

class AppActorInstance implements ActorInstance {
  private readonly base: string;

  constructor(
    private readonly channel: AppChannel,
    private readonly type: string,
    private readonly id: string,
    private readonly reentrant: boolean,
  ) {
    this.base = `/actors/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
  }

  /**
   * A call as bytes ({@link RawActorCall}) answers the app's reply as it is ({@link RawActorReply});
   * other arguments (the typed client) go as JSON (one argument as itself, several as an array) and the
   * reply's JSON is the result. A reply other than 200 is daprd's `ERR_ACTOR_INVOKE_METHOD`.
   */
  async invoke(method: string, args: readonly unknown[]): Promise<unknown> {
    const raw = args[0] instanceof RawActorCall ? args[0] : undefined;
    const body = raw ? raw.body : args.length === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify(args.length === 1 ? args[0] : args));
    const path = `${this.base}/method/${method.split('/').map(encodeURIComponent).join('/')}${raw?.query ? `?${raw.query}` : ''}`;
    const res = await this.send('PUT', path, body, raw?.contentType ?? 'application/json', raw?.headers);
    if (res.status === 404) throw new ActorError('ERR_ACTOR_INVOKE_METHOD', `error invoke actor method: actor method not found: ${method}`);
    if (res.status !== 200) throw this.failed(res);
    const actorError = res.headers['x-daprerrorresponseheader'] !== undefined;
    if (raw) return new RawActorReply(res.status, res.headers, res.body);
    const text = res.body.toString('utf8');
    if (actorError) throw new ActorError('ERR_ACTOR_INVOKE_METHOD', `error invoke actor method: actor error with details in body: ${text}`);
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  hasCallback(): boolean {
    return true; // the app decides what its timer callbacks are
  }

  async timer(firing: TimerFiring): Promise<FiringOutcome> {
    const { callback, data, dueTime, period } = firing;
    return this.fire(`timer/${firing.name}`, { callback, data, dueTime: dueTime ?? '', period: period ?? '' });
  }

  async reminder(firing: ReminderFiring): Promise<FiringOutcome> {
    const { data, dueTime, period } = firing;
    return this.fire(`remind/${firing.name}`, { data, dueTime: dueTime ?? '', period: period ?? '' });
  }

  async deactivate(): Promise<void> {
    const res = await this.send('DELETE', this.base, Buffer.alloc(0), 'application/json');
    if (res.status !== 200) throw new Error(`DELETE ${this.base}: error from actor service: (${res.status}) ${res.body.toString('utf8')}`);
  }

  private async fire(what: string, body: Record<string, unknown>): Promise<FiringOutcome> {
    const path = `${this.base}/method/${what.split('/').map(encodeURIComponent).join('/')}`;
    // A reminder or timer firing waits while the app is unhealthy (app health checks), like a pub/sub delivery.
    await this.channel.admit(true);
    const res = await this.send('PUT', path, Buffer.from(JSON.stringify(body)), 'application/json');
    if (res.status === 404) throw new ActorError('ERR_ACTOR_INVOKE_METHOD', `error invoke actor method: actor method not found: ${what}`);
    if (res.status !== 200) throw this.failed(res);
    return truthy(res.headers['x-daprremindercancel']) ? 'cancel' : 'done';
  }

  private failed(res: InvokeResponse): ActorError {
    return new ActorError('ERR_ACTOR_INVOKE_METHOD', `error invoke actor method: error from actor service: (${res.status}) ${res.body.toString('utf8')}`);
  }

  private async send(method: string, url: string, body: Buffer, contentType: string, extra: Readonly<Record<string, string>> = {}): Promise<InvokeResponse> {
    const headers: Record<string, string> = { ...extra, 'content-type': contentType };
    const chain = currentChain();
    // daprd sends the call chain only to apps with reentrancy enabled; they echo it on nested calls.
    if (this.reentrant && chain) headers['dapr-reentrancy-id'] = chain.id;
    try {
      // While the app is unhealthy (app health checks), a call is refused as daprd refuses invocations.
      await this.channel.admit(false);
      return await this.channel.forward({ method, url, headers, body });
    } catch (err) {
      throw new ActorError(
        'ERR_ACTOR_INVOKE_METHOD',
        `error invoke actor method: error invoking app channel for actor ${this.type}/${this.id}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
}
