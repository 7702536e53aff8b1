import type { Message } from 'kafkajs';

/** Produce requests of one topic in flight at once, at most; what is published meanwhile waits and goes in the next. */
export const MAX_IN_FLIGHT = 2;
/** Bytes of records (key, value, headers) in one produce request at most, unless one record alone is larger. */
export const MAX_REQUEST_BYTES = 256 * 1024;

interface Queued {
  readonly messages: Message[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Publishes to one topic, gathering the records of concurrent publish calls into one produce request
 * (kafkajs sends one request per `send()`, and a broker handles a connection's requests one at a
 * time: 32 publishers each sending alone spent their time in request round trips). Nothing waits
 * on a timer: a publish goes out at once when fewer than {@link MAX_IN_FLIGHT} requests are in flight
 * (after the current tick, so calls made together share a request), else with the next request
 * when one returns. Each call still resolves only once the broker acknowledged its records, and a
 * failed request fails exactly the calls whose records it carried. Requests stay below
 * {@link MAX_REQUEST_BYTES}, so a batch is never refused for a size its records would pass alone.
 */
export class SendQueue {
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly send: (messages: Message[]) => Promise<void>) {}

  /** Sends `messages` (all or none: one publish call), resolving when the broker acknowledged them. */
  push(messages: Message[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, bytes, resolve, reject });
      if (!this.scheduled && this.inFlight < MAX_IN_FLIGHT) {
        this.scheduled = true;
        process.nextTick(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      const messages = batch.length === 1 ? (batch[0] as Queued).messages : batch.flatMap((q) => q.messages);
      this.send(messages).then(
        () => this.settle(batch, undefined),
        (err: unknown) => this.settle(batch, err ?? new Error('kafka send failed')),
      );
    }
  }

  private settle(batch: readonly Queued[], err: unknown): void {
    this.inFlight -= 1;
    for (const q of batch) {
      if (err === undefined) q.resolve();
      else q.reject(err);
    }
    this.pump();
  }

  /** The calls of the next request: in order, up to MAX_REQUEST_BYTES (at least one). */
  private take(): Queued[] {
    let bytes = 0;
    let n = 0;
    for (const q of this.queue) {
      if (n > 0 && bytes + q.bytes > MAX_REQUEST_BYTES) break;
      bytes += q.bytes;
      n += 1;
    }
    return this.queue.splice(0, n);
  }
}
