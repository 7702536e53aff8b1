import { join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';

/**
 * samples/06-workflow as its README walks through it: place an order, crash the app (SIGKILL) while the
 * saga waits for approval, start it again, approve over Dapr's workflow API: the order ships, and the
 * activities done before the crash did not run again. A declined payment runs the compensations.
 */

const MAIN_JS = join(ROOT, 'dist/samples/06-workflow/src/main.js');

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, proc: Proc): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})\n${proc.describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('samples/06-workflow: an order saga that survives a crash', () => {
  beforeAll(() => ensureBuilt([MAIN_JS]), 180_000);

  it('resumes after SIGKILL without re-running done steps, ships on approval; compensates a declined payment', async () => {
    const dataDir = tempDir('sidekick-sample-wf-');
    const [port, apiPort] = [await freePort(), await freePort()];
    const env = { PORT: String(port), SIDEKICK_HTTP_PORT: String(apiPort), SIDEKICK_DATA_DIR: dataDir };
    const app = `http://127.0.0.1:${port}`;
    const api = `http://127.0.0.1:${apiPort}`;
    let proc = startNode('orders-1', MAIN_JS, { env });
    try {
      await waitHealthy(proc, api);
      const placed = await json(`${app}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'o-1', item: 'book', qty: 2, amount: 1999 }),
      });
      expect(placed).toEqual({ status: 201, body: { instanceId: 'o-1' } });
      await until(
        'awaiting approval',
        () => json(`${app}/orders/o-1`),
        (r) => r.body?.customStatus === 'awaiting approval',
        proc,
      );
      expect(proc.out).toContain('o-1: reserved 2 book');
      expect(proc.out).toContain('o-1: charged 1999');

      proc.child.kill('SIGKILL'); // the crash
      await proc.exited;
      proc = startNode('orders-2', MAIN_JS, { env });
      await waitHealthy(proc, api);
      expect((await json(`${api}/v1.0-beta1/workflows/dapr/o-1`)).body.runtimeStatus).toBe('RUNNING');
      const approved = await json(`${api}/v1.0-beta1/workflows/dapr/o-1/raiseEvent/approval`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ approved: true }),
      });
      expect(approved.status).toBe(202);
      const done = await until(
        'completion',
        () => json(`${app}/orders/o-1`),
        (r) => r.body?.status === 'COMPLETED',
        proc,
      );
      expect(done.body.output).toEqual({ status: 'shipped', detail: 'ship-o-1' });
      expect(proc.out).toContain('o-1: shipped');
      expect(proc.out).not.toContain('o-1: reserved'); // done before the crash: not run again
      expect(proc.out).not.toContain('o-1: charged');

      await json(`${app}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'o-2', item: 'pen', qty: 1, amount: 500_000 }),
      });
      const declined = await until(
        'o-2 completion',
        () => json(`${app}/orders/o-2`),
        (r) => r.body?.status === 'COMPLETED',
        proc,
      );
      expect(declined.body.output).toEqual({ status: 'failed', detail: 'payment of 500000 declined' });
      expect(proc.out).toContain('o-2: released 1 pen');
    } finally {
      await proc.stop();
    }
  }, 90_000);
});
