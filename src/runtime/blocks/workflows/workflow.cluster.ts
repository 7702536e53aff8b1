import { errorMessage } from '../../../errors/sidekick.error';
import type { SidekickLogger } from '../../../spi/logger';
import type { StateService } from '../state/state.service';
import type { WorkflowEngine } from './workflow.engine';
import { isConflict, type Message, WorkflowMailbox } from './workflow.mailbox';
import { WorkflowOwnership } from './workflow.ownership';
import type { WorkflowStore } from './workflow.store';
import { withMessageId } from './workflow.instance';
import { TERMINAL_STATUSES } from './workflow.types';

/** A message for an instance not driven here is kept this long (its adopter may still be loading it), then dropped. */
const KEEP_UNKNOWN_MS = 60_000;

/**
 * The engine as one process among several sharing a state store: joins the members record, adopts the
 * instances of processes whose lease passed (`workflow.ownership.ts`), drops its own when another
 * adopted them, and reads its inbox (`workflow.mailbox.ts`) every `pollMs`.
 */
export class WorkflowCluster {
  readonly ownership: WorkflowOwnership;
  private poller?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly engine: WorkflowEngine,
    private readonly store: WorkflowStore,
    private readonly mailbox: WorkflowMailbox,
    state: StateService,
    leaseMs: number,
    private readonly pollMs: number,
    private readonly logger: SidekickLogger,
  ) {
    this.ownership = new WorkflowOwnership(
      state,
      () => store.storeName,
      leaseMs,
      {
        joined: (id) => store.setOwner(id),
        lost: () => engine.dropAll(),
        adopt: (dead) => this.adopt(dead),
      },
      logger,
    );
    engine.onLost = (reason) => this.ownership.markLost(reason);
  }

  /** Joins (adopting what gone processes left), then reads the inbox every `pollMs`. Resolves with the instances resumed. */
  async start(): Promise<number> {
    const before = this.engine.size;
    await this.ownership.start();
    this.poller = setInterval(() => void this.poll(), this.pollMs);
    this.poller.unref();
    return this.engine.size - before;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await this.polling?.catch(() => undefined);
    await this.ownership.stop();
  }

  /** Fences `dead` out, takes its instances and its inbox, then resumes them here. */
  private async adopt(dead: string): Promise<void> {
    const me = this.ownership.id;
    await this.store.fenceOut(dead); // before anything of it is read: what it wrote is all there is
    for (let attempt = 0; ; attempt++) {
      const ids = await this.store.activeIds(dead);
      const [theirs, mine] = await Promise.all([this.mailbox.read(dead), this.mailbox.read(me)]);
      const ops = [this.mailbox.put(dead, { redirect: me, messages: [] }, theirs.etag)];
      if (theirs.record.messages.length > 0) {
        ops.push(this.mailbox.put(me, { messages: [...mine.record.messages, ...theirs.record.messages] }, mine.etag));
      }
      try {
        await this.store.adopt(dead, ids, ops);
        const resumed = await this.engine.resume(ids);
        this.logger.info({ member: me, adopted: dead, instances: ids.length, resumed }, 'workflows: adopted the instances of a process whose lease passed');
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 20) throw err;
      }
    }
  }

  /** Reads this process's inbox, feeds the messages, removes those handled. */
  private poll(): Promise<void> {
    if (this.polling || this.stopped || !this.ownership.id) return this.polling ?? Promise.resolve();
    const member = this.ownership.id;
    this.polling = (async () => {
      const inbox = await this.mailbox.read(member);
      if (inbox.record.redirect) {
        this.ownership.markLost(`process ${inbox.record.redirect} adopted this one's instances`);
        return;
      }
      if (inbox.record.messages.length === 0) return;
      const handled = await this.receive(inbox.record.messages);
      await this.mailbox.ack(member, handled);
    })()
      .catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'workflows: reading the inbox failed'))
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Feeds the messages; resolves with the ids handled (recorded, recorded before, or for an ended instance). */
  private async receive(messages: readonly Message[]): Promise<Set<string>> {
    const handled = new Set<string>();
    await Promise.all(
      messages.map(async (m) => {
        const inst = this.engine.local(m.instanceId);
        if (inst?.messages.has(m.id)) {
          handled.add(m.id);
        } else if (inst) {
          await this.engine.record(inst, withMessageId(m.event, m.id)).then(
            () => handled.add(m.id),
            (err: unknown) => this.logger.warn({ instanceId: m.instanceId, err: errorMessage(err) }, 'workflow message not recorded yet; kept in the inbox'),
          );
        } else {
          const record = await this.store.record(m.instanceId);
          const active = record !== undefined && !TERMINAL_STATUSES.includes(record.status);
          if (active && Date.now() - m.at < KEEP_UNKNOWN_MS) return; // its adopter may still be loading it
          if (active) this.logger.warn({ instanceId: m.instanceId, event: m.event.type }, 'workflow message for an instance not driven here dropped');
          handled.add(m.id);
        }
      }),
    );
    return handled;
  }
}
