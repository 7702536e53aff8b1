import { randomUUID } from 'node:crypto';
import { ActorError, ActorMovingError } from '../../../errors/actor.errors';
import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import type { StateStore, TransactionOperation } from '../../../spi/state.store';

/** The owner record an actor's writes are checked against (placement's fencing token). */
export interface Fence {
  readonly key: string;
  readonly value: string;
  etag: string;
}

/** One change of an actor's state: a JSON text (or bytes) to store, or a delete. */
export type ActorStateOp = { readonly key: string; readonly value: string | Buffer } | { readonly key: string; readonly delete: true };

/**
 * The actor state store (the one state component marked `actorStateStore: "true"`) in Dapr's key
 * layout: `<appId>||<actorType>||<actorId>||<key>` for state; the reminders of a type under
 * `actors||<appId>||<actorType>` (Dapr's pre-Scheduler `actors||<actorType>`, with the app id added so
 * two apps on one store never share a list).
 */
export class ActorStore {
  constructor(
    readonly name: string,
    private readonly store: StateStore,
    private readonly appId: string,
  ) {}

  stateKey(type: string, id: string, key: string): string {
    return `${this.appId}||${type}||${id}||${key}`;
  }

  remindersKey(type: string): string {
    return `actors||${this.appId}||${type}`;
  }

  async get(type: string, id: string, key: string): Promise<Buffer | undefined> {
    try {
      return (await this.store.get(this.stateKey(type, id, key)))?.data;
    } catch (err) {
      throw new ActorError('ERR_ACTOR_STATE_GET', `error getting actor state for ${type}/${id} key "${key}" from ${this.name}: ${errorMessage(err)}`, {
        cause: err,
        retryable: err instanceof SidekickError ? err.retryable : true,
      });
    }
  }

  /**
   * Applies the changes of one actor as one transaction: all or none. With `fence` (placement across
   * instances), the transaction also rewrites the actor's owner record under its etag: after another
   * instance took the actor over, the etag no longer matches and nothing is written.
   */
  async transact(type: string, id: string, ops: readonly ActorStateOp[], fence?: Fence): Promise<void> {
    if (ops.length === 0) return;
    const tx: TransactionOperation[] = ops.map((op) =>
      'delete' in op
        ? { operation: 'delete', request: { key: this.stateKey(type, id, op.key) } }
        : { operation: 'upsert', request: { key: this.stateKey(type, id, op.key), value: op.value } },
    );
    if (fence) tx.push({ operation: 'upsert', request: { key: fence.key, value: fence.value, etag: fence.etag, options: { concurrency: 'first-write' } } });
    try {
      await this.store.transact(tx);
    } catch (err) {
      throw new ActorError('ERR_ACTOR_STATE_TRANSACTION_SAVE', `error saving the state of actor ${type}/${id} in ${this.name}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** The owner record of an actor (placement): `actors||<appId>||<type>||<id>||owner`. */
  ownerKey(type: string, id: string): string {
    return `actors||${this.appId}||${type}||${id}||owner`;
  }

  membersKey(): string {
    return `actors||${this.appId}||members`;
  }

  async getEntry(key: string): Promise<{ data: Buffer; etag: string } | undefined> {
    const found = await this.store.get(key);
    return found && { data: found.data, etag: found.etag };
  }

  /** Writes `value` if the item still has `etag` (undefined: only if it is missing, on stores that check; Redis creates or overwrites). */
  async setEntry(key: string, value: string, etag: string | undefined): Promise<void> {
    await this.store.set({ key, value, etag, options: { concurrency: 'first-write' } });
  }

  /**
   * Placement: claims the actor's owner record for a new activation and returns it as the fence every
   * save of the activation rewrites. The record is taken only when it is missing (create-only), released,
   * already this instance's, or held by an instance whose lease has passed (`alive` reads the membership
   * table): an owner record of another live instance is never taken over, so an actor is active in one
   * instance at a time. Compare-and-set on the record's etag; the value is unique to the activation.
   * Throws {@link ActorMovingError} (nothing ran: the caller retries) when another live instance holds it.
   */
  async claimOwner(type: string, id: string, instance: string, alive: (instance: string) => Promise<boolean>): Promise<Fence> {
    const key = this.ownerKey(type, id);
    const value = JSON.stringify({ instance, activation: randomUUID(), at: Date.now() });
    const current = await this.getEntry(key);
    if (current) {
      const holder = parseOwner(current.data);
      if (holder && !holder.released && holder.instance !== instance && (await alive(holder.instance))) {
        throw new ActorMovingError(
          type,
          id,
          `instance ${holder.instance} still holds it (it releases it once it sees the membership change, or loses it when its lease ends)`,
        );
      }
    }
    try {
      await this.setEntry(key, value, current?.etag);
    } catch (err) {
      throw new ActorMovingError(type, id, `another instance claimed it at the same moment (${errorMessage(err)})`);
    }
    const now = await this.getEntry(key);
    if (!now || now.data.toString('utf8') !== value) throw new ActorMovingError(type, id, 'another instance claimed it at the same moment');
    return { key, value, etag: now.etag };
  }

  /**
   * Marks the owner record released (under the activation's etag: refused, and harmless, if another
   * instance took it over meanwhile). The record is kept, not deleted, so a stale fence can never match
   * a record created again later.
   */
  async releaseOwner(fence: Fence): Promise<void> {
    const holder = parseOwner(Buffer.from(fence.value, 'utf8'));
    await this.setEntry(fence.key, JSON.stringify({ ...holder, released: true, at: Date.now() }), fence.etag);
  }

  async getRaw(key: string): Promise<Buffer | undefined> {
    return (await this.store.get(key))?.data;
  }

  async setRaw(key: string, value: string): Promise<void> {
    await this.store.set({ key, value });
  }
}

interface OwnerRecord {
  readonly instance: string;
  readonly activation?: string;
  readonly released?: boolean;
}

function parseOwner(data: Buffer): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(data.toString('utf8')) as Partial<OwnerRecord>;
    return typeof parsed.instance === 'string' ? (parsed as OwnerRecord) : undefined;
  } catch {
    return undefined;
  }
}
