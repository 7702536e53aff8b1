import { join } from 'node:path';
import { BANK_MAIN, type BankInstance, callActor as call, liveMembers, overlaps, startBank, until } from './actor-churn';
import { ensureBuilt, ROOT, startProcess } from './processes';

/**
 * Placement across processes: samples/05-actors (bank accounts, placement enabled) as three instances
 * of one app id, started as separate Node processes, on the store `env` selects (Redis or PostgreSQL).
 * 300 actors spread with no overlapping activation; SIGKILL of one (its actors and reminders move);
 * a process paused past its lease cannot write; the sample's call-both.mjs.
 */
export function describePlacementAcrossProcesses(
  store: string,
  options: { env: Record<string, string>; leaseMs: number; requireStore: () => Promise<void>; cleanup: () => Promise<void> },
): void {
  const LEASE_MS = options.leaseMs;
  describe(`actor placement across three processes on ${store} (samples/05-actors)`, () => {
    const instances: BankInstance[] = [];
    const ids = Array.from({ length: 300 }, (_, i) => `acc-${i}`);

    beforeAll(async () => {
      await options.requireStore();
      await ensureBuilt([BANK_MAIN]);
      instances.push(...(await Promise.all(['a', 'b', 'c'].map((name) => startBank(name, options.env)))));
      await until('three live members everywhere', async () => (await Promise.all(instances.map((i) => liveMembers(i.api)))).every((n) => n === 3), 20_000);
    }, 180_000);

    afterAll(async () => {
      for (const i of instances) {
        if (i.proc.running) {
          i.proc.child.kill('SIGCONT');
          await i.proc.stop();
        }
      }
      await options.cleanup();
    }, 60_000);

    it('spreads 300 actors over the instances, each active in one at a time, whichever instance is called', async () => {
      for (let i = 0; i < ids.length; i += 30) {
        const batch = ids.slice(i, i + 30);
        const results = await Promise.all(batch.map((id, j) => call<number>((instances[(i + j) % 3] as BankInstance).api, id, 'deposit', [10])));
        expect(results.every((r) => r.status === 200 && r.body === 10)).toBe(true);
      }
      // Read back through a different instance than the one that deposited.
      const statements = await Promise.all(
        ids.map((id, i) => call<{ balance: number; instance: string }>((instances[(i + 1) % 3] as BankInstance).api, id, 'statement')),
      );
      expect(statements.every((s) => s.status === 200 && s.body.balance === 10)).toBe(true);
      const where = new Map<string, number>();
      for (const s of statements) where.set(s.body.instance, (where.get(s.body.instance) ?? 0) + 1);
      expect([...where.keys()].sort()).toEqual(['a', 'b', 'c']);
      for (const n of where.values()) expect(n).toBeGreaterThan(50);
      expect(overlaps(instances, ids, Date.now())).toEqual([]);
    }, 120_000);

    it('SIGKILL of one instance: its actors reactivate elsewhere within the lease, state intact, reminders keep firing', async () => {
      const reminded = ids.slice(0, 30);
      for (const id of reminded) expect((await call((instances[0] as BankInstance).api, id, 'enableInterest', [1, '1s'])).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2500));
      const victim = instances[2] as BankInstance;
      const owned = (
        await Promise.all(ids.map(async (id) => ({ id, s: (await call<{ instance: string }>((instances[0] as BankInstance).api, id, 'statement')).body })))
      )
        .filter((x) => x.s.instance === 'c')
        .map((x) => x.id);
      expect(owned.length).toBeGreaterThan(0);
      const killedAt = Date.now();
      victim.proc.child.kill('SIGKILL');
      await victim.proc.exited;
      const survivors = instances.slice(0, 2);
      // Every account of the killed instance answers again, from a survivor, with its balance.
      const after = await Promise.all(
        owned.map((id, i) => call<{ balance: number; instance: string }>((survivors[i % 2] as BankInstance).api, id, 'statement')),
      );
      const movedWithin = Date.now() - killedAt;
      expect(after.every((s) => s.status === 200 && s.body.balance >= 10 && s.body.instance !== 'c')).toBe(true);
      expect(movedWithin).toBeLessThan(LEASE_MS * 2 + 5000);
      // Reminders of the moved accounts keep firing on the survivors.
      const before = await Promise.all(
        reminded.map(async (id) => (await call<{ interestPaid: number }>((survivors[0] as BankInstance).api, id, 'statement')).body.interestPaid),
      );
      await new Promise((r) => setTimeout(r, 3500));
      const later = await Promise.all(
        reminded.map(async (id) => (await call<{ interestPaid: number }>((survivors[1] as BankInstance).api, id, 'statement')).body.interestPaid),
      );
      expect(later.every((n, i) => n > (before[i] as number))).toBe(true);
      // Duplicates: the same (account, firing number) printed by two instances.
      const seen = new Map<string, number>();
      for (const i of instances)
        for (const m of i.proc.out.matchAll(/^INTEREST (\S+) (\d+) /gm)) seen.set(`${m[1]}#${m[2]}`, (seen.get(`${m[1]}#${m[2]}`) ?? 0) + 1);
      const duplicates = [...seen.values()].filter((n) => n > 1).length;
      // Each actor was active in one instance at a time (the killed one's activations end when it died).
      expect(overlaps(instances, ids, Date.now(), { c: killedAt })).toEqual([]);
      console.log(`placement kill test: ${owned.length} actors moved in ${movedWithin} ms; ${seen.size} reminder firings logged, ${duplicates} duplicated`);
    }, 120_000);

    it('a paused instance (SIGSTOP past its lease, then SIGCONT) cannot write: its late turn is refused by the fencing token', async () => {
      const [a, b] = instances as [BankInstance, BankInstance];
      const statements = await Promise.all(
        ids.map(async (id) => ({ id, s: (await call<{ instance: string; balance: number }>(a.api, id, 'statement')).body })),
      );
      const target = statements.find((x) => x.s.instance === 'b' && !x.id.match(/^acc-([0-9]|[12][0-9])$/));
      expect(target).toBeDefined();
      const id = (target as { id: string }).id;
      const balance = (target as { s: { balance: number } }).s.balance;
      const late = call<unknown>(b.api, id, 'slowDeposit', [5, 1500]);
      await new Promise((r) => setTimeout(r, 300));
      b.proc.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, LEASE_MS + 1500));
      // Meanwhile the account moves to a, which writes.
      const moved = await call<number>(a.api, id, 'deposit', [1]);
      expect(moved).toEqual({ status: 200, body: balance + 1 });
      b.proc.child.kill('SIGCONT');
      const refused = await late;
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ errorCode: 'ERR_ACTOR_INSTANCE_MISSING', message: expect.stringContaining('fencing token') });
      expect((await call<{ balance: number }>(a.api, id, 'statement')).body.balance).toBe(balance + 1);
    }, 120_000);

    it("the sample's call-both.mjs deposits and withdraws through two instances and reads the same balance through both", async () => {
      const [a, b] = instances as [BankInstance, BankInstance];
      // The previous tests killed c and paused b past its lease: b is back once it renewed its lease. No settling
      // time beyond that: whichever instance a call reaches, the actor is served by the one holding its owner record.
      await until('a and b to see the same 2 live members', async () => (await liveMembers(a.api)) === 2 && (await liveMembers(b.api)) === 2, 30_000);
      const script = startProcess('call-both', process.execPath, [join(ROOT, 'samples/05-actors/call-both.mjs'), new URL(a.api).port, new URL(b.api).port], {
        env: {},
      });
      const exit = await script.waitExit(60_000);
      expect({ exit, err: script.err }).toEqual({ exit: { code: 0, signal: null }, err: '' });
      const balances = script.matches(/^(demo-\d): balance 120 \(lives in [abc]; the same through the other instance: 120\)$/gm);
      if (balances.length !== 4) throw new Error(`call-both.mjs printed:\n${script.out}`);
      expect(script.matches(/^(demo-\d): balance 120 \(lives in [abc]; the same through the other instance: 120\)$/gm)).toEqual([
        'demo-1',
        'demo-2',
        'demo-3',
        'demo-4',
      ]);
      expect(script.out).toContain('withdrawing too much fails: ');
    }, 90_000);
  });
}
