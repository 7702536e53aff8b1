import { randomUUID } from 'node:crypto';
import { BackendError, SidekickError } from '../../../errors/sidekick.error';
import type { StateService } from '../state/state.service';
import type { StateOperation } from '../state/state.types';
import { type HistoryEvent, type InstanceRecord, TERMINAL_STATUSES } from './workflow.types';

/** An event for an instance driven by another process (raise, suspend, resume, terminate, a child's result). */
export interface Message {
  readonly id: string;
  readonly instanceId: string;
  readonly event: HistoryEvent;
  /** Epoch ms it was sent. */
  readonly at: number;
}

/** `wf-inbox:<member>`: the messages for a process, or where to send them once it was adopted. */
export interface InboxRecord {
  readonly redirect?: string;
  readonly messages: Message[];
}

export interface Inbox {
  readonly record: InboxRecord;
  readonly etag?: string;
}

const MAX_ATTEMPTS = 50;
export const inboxKey = (member: string): string => `wf-inbox:${member}`;

/**
 * Events between the processes of one app, through the state store: each process has an inbox record
 * that the others append to (compare-and-set on its ETag) and that it reads every `pollMs`. A message
 * is removed once its event is recorded in the instance's history (which keeps the message id, so a
 * message read twice after a crash is recorded once). An adopted process's inbox holds a redirect to
 * its adopter; senders follow it.
 */
export class WorkflowMailbox {
  constructor(
    private readonly state: StateService,
    private readonly storeName: () => string,
    private readonly find: (instanceId: string) => Promise<InstanceRecord | undefined>,
  ) {}

  /** Sends `event` to the process driving the instance (`record`: as just read); false when the instance is not active. */
  async sendToInstance(instanceId: string, event: HistoryEvent, record?: InstanceRecord): Promise<boolean> {
    const found = record ?? (await this.find(instanceId));
    if (!found?.owner || TERMINAL_STATUSES.includes(found.status)) return false;
    await this.send(found.owner, instanceId, event);
    return true;
  }

  /** Appends `event` for `instanceId` to the inbox of `owner` (or of whoever adopted it). */
  async send(owner: string, instanceId: string, event: HistoryEvent): Promise<void> {
    const message: Message = { id: randomUUID(), instanceId, event, at: Date.now() };
    let to = owner;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const inbox = await this.read(to);
      if (inbox.record.redirect) {
        to = inbox.record.redirect;
        continue;
      }
      try {
        await this.state.transact(this.storeName(), [this.put(to, { messages: [...inbox.record.messages, message] }, inbox.etag)]);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 20));
      }
    }
    throw new BackendError(this.storeName(), `workflow inbox of process ${to} kept changing; gave up sending to instance '${instanceId}'`);
  }

  async read(member: string): Promise<Inbox> {
    const found = await this.state.get(this.storeName(), inboxKey(member));
    return found ? { record: JSON.parse(found.data.toString('utf8')) as InboxRecord, etag: found.etag } : { record: { messages: [] } };
  }

  /** Removes the messages `ids` from `member`'s inbox. */
  async ack(member: string, ids: ReadonlySet<string>): Promise<void> {
    if (ids.size === 0) return;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const inbox = await this.read(member);
      if (inbox.record.redirect) return; // adopted meanwhile: the messages moved with the instances
      const messages = inbox.record.messages.filter((m) => !ids.has(m.id));
      if (messages.length === inbox.record.messages.length) return;
      try {
        await this.state.transact(this.storeName(), [this.put(member, { messages }, inbox.etag)]);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** The write of an inbox record, guarded by the ETag it was read with (or first-write when it was missing). */
  put(member: string, record: InboxRecord, etag: string | undefined, metadata?: Readonly<Record<string, string>>): StateOperation {
    return {
      operation: 'upsert',
      request: { key: inboxKey(member), value: JSON.stringify(record), etag, options: etag ? undefined : { concurrency: 'first-write' }, metadata },
    };
  }
}

export function isConflict(err: unknown): boolean {
  return err instanceof SidekickError && (err.code === 'ERR_ETAG_MISMATCH' || err.code === 'ERR_ETAG_INVALID');
}
