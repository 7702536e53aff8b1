import type { Message } from 'kafkajs';
import { MAX_IN_FLIGHT, MAX_REQUEST_BYTES, SendQueue } from '../../libs/kafka/kafka.send-queue';

/** A send function whose requests the test answers by hand; records what each request carried. */
function manualSender() {
  const requests: { values: string[]; answer: (err?: Error) => void }[] = [];
  const send = (messages: Message[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      requests.push({ values: messages.map((m) => String(m.value)), answer: (err) => (err ? reject(err) : resolve()) });
    });
  return { requests, send };
}

const msg = (value: string): Message[] => [{ value }];
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function outcome(promise: Promise<void>): () => string {
  let state = 'pending';
  promise.then(
    () => (state = 'sent'),
    (err: unknown) => (state = `failed: ${(err as Error).message}`),
  );
  return () => state;
}

describe('kafka SendQueue', () => {
  it('publishes made in the same tick share one request; each resolves only when its request is acknowledged', async () => {
    const { requests, send } = manualSender();
    const queue = new SendQueue(send);
    const a = outcome(queue.push(msg('a'), 1));
    const b = outcome(queue.push(msg('b'), 1));
    await flush();
    expect(requests.map((r) => r.values)).toEqual([['a', 'b']]);
    expect([a(), b()]).toEqual(['pending', 'pending']);
    requests[0]?.answer();
    await flush();
    expect([a(), b()]).toEqual(['sent', 'sent']);
  });

  it(`keeps at most ${MAX_IN_FLIGHT} requests in flight; what is published meanwhile goes together in the next`, async () => {
    const { requests, send } = manualSender();
    const queue = new SendQueue(send);
    const results: (() => string)[] = [];
    for (let i = 0; i < MAX_IN_FLIGHT; i++) {
      results.push(outcome(queue.push(msg(`first-${i}`), 1)));
      await flush(); // a later tick: a request of its own
    }
    for (const v of ['x', 'y', 'z']) results.push(outcome(queue.push(msg(v), 1)));
    await flush();
    expect(requests).toHaveLength(MAX_IN_FLIGHT);
    requests[0]?.answer();
    await flush();
    expect(requests.map((r) => r.values).at(-1)).toEqual(['x', 'y', 'z']);
    for (const r of requests) r.answer();
    await flush();
    expect(results.map((r) => r())).toEqual(results.map(() => 'sent'));
  });

  it('a failed request fails exactly the publishes it carried', async () => {
    const { requests, send } = manualSender();
    const queue = new SendQueue(send);
    const a = outcome(queue.push(msg('a'), 1));
    await flush();
    const b = outcome(queue.push(msg('b'), 1));
    await flush();
    requests[0]?.answer(new Error('broker said no'));
    requests[1]?.answer();
    await flush();
    expect([a(), b()]).toEqual(['failed: broker said no', 'sent']);
  });

  it(`splits requests at ${MAX_REQUEST_BYTES} bytes; a larger record goes alone`, async () => {
    const { requests, send } = manualSender();
    const queue = new SendQueue(send);
    const half = MAX_REQUEST_BYTES / 2;
    const all = Promise.all([
      queue.push(msg('h1'), half),
      queue.push(msg('h2'), half),
      queue.push(msg('h3'), half),
      queue.push(msg('big'), MAX_REQUEST_BYTES * 2),
      queue.push(msg('small'), 10),
    ]);
    let done = false;
    void all.then(() => (done = true));
    for (let answered = 0; !done && answered < 10; answered++) {
      await flush();
      requests.find((r, i) => i === answered)?.answer();
    }
    expect(done).toBe(true);
    expect(requests.map((r) => r.values)).toEqual([['h1', 'h2'], ['h3'], ['big'], ['small']]);
  });
});
