import type { EachBatchPayload } from 'kafkajs';
import { COMMIT_EVERY, OffsetCommitter } from '../../libs/kafka/kafka.committer';
import { noopLogger } from '../support/logger';

type Request = { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] };

/** The part of a kafkajs batch payload the committer uses: its commit function, answered by the test. */
function manualCommits() {
  const requests: { request: Request; answer: (err?: Error) => void }[] = [];
  const via = {
    commitOffsetsIfNecessary: (request: Request) =>
      new Promise<void>((resolve, reject) => requests.push({ request, answer: (err) => (err ? reject(err) : resolve()) })),
  } as unknown as EachBatchPayload;
  return { requests, via };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const owned = (): boolean => true;

describe('kafka OffsetCommitter', () => {
  it('commits the next offset after the last handled one; marks made meanwhile go together in the next commit', async () => {
    const { requests, via } = manualCommits();
    const committer = new OffsetCommitter(noopLogger, 'test');
    committer.mark('t|0', 't', 0, '5', via, owned);
    await flush();
    committer.mark('t|0', 't', 0, '6', via, owned);
    committer.mark('t|1', 't', 1, '9', via, owned);
    committer.mark('u|0', 'u', 0, '2', via, owned);
    await flush();
    expect(requests).toHaveLength(1); // one in flight
    expect(requests[0]?.request).toEqual({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '6' }] }] });
    requests[0]?.answer();
    await flush();
    expect(requests[1]?.request).toEqual({
      topics: [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '7' },
            { partition: 1, offset: '10' },
          ],
        },
        { topic: 'u', partitions: [{ partition: 0, offset: '3' }] },
      ],
    });
    requests[1]?.answer();
    await committer.flush();
    expect(requests).toHaveLength(2);
  });

  it(`room() waits while a partition has ${COMMIT_EVERY} handled records not committed`, async () => {
    const { requests, via } = manualCommits();
    const committer = new OffsetCommitter(noopLogger, 'test');
    for (let i = 0; i < COMMIT_EVERY; i++) committer.mark('t|0', 't', 0, String(i), via, owned);
    expect(committer.outstanding('t|0')).toBe(COMMIT_EVERY);
    let roomy = false;
    void committer.room('t|0').then(() => (roomy = true));
    await flush();
    expect(roomy).toBe(false);
    requests[0]?.answer(); // the first mark's commit (the loop started with it); the 99 others are in the next
    await flush();
    expect(roomy).toBe(true);
    expect(committer.outstanding('t|0')).toBe(COMMIT_EVERY - 1);
    expect(requests[1]?.request.topics[0]?.partitions).toEqual([{ partition: 0, offset: String(COMMIT_EVERY) }]);
    requests[1]?.answer();
    await committer.flush();
    expect(committer.outstanding('t|0')).toBe(0);
  });

  it('a failed commit is logged, not thrown; partitions no longer owned and a stopped committer commit nothing', async () => {
    const { requests, via } = manualCommits();
    const committer = new OffsetCommitter(noopLogger, 'test');
    committer.mark('t|0', 't', 0, '1', via, owned);
    await flush();
    requests[0]?.answer(new Error('REBALANCE_IN_PROGRESS'));
    await committer.flush();
    committer.mark('t|1', 't', 1, '1', via, () => false);
    await committer.flush(); // nothing sent: that loop ended at once, and the next mark starts another
    committer.mark('t|2', 't', 2, '4', via, owned);
    await flush();
    expect(requests[1]?.request).toEqual({ topics: [{ topic: 't', partitions: [{ partition: 2, offset: '5' }] }] });
    requests[1]?.answer();
    await committer.flush();
    committer.stop();
    committer.mark('t|0', 't', 0, '2', via, owned);
    await committer.flush();
    expect(requests).toHaveLength(2);
  });
});

describe('kafka OffsetCommitter: marks made while the commit loop winds down', () => {
  const hops = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };

  it.each([0, 1, 2, 3, 4, 5, 6, 8, 12])('a mark %i microtasks after the last commit returned is committed too (never stranded)', async (n) => {
    const { requests, via } = manualCommits();
    const committer = new OffsetCommitter(noopLogger, 'test');
    committer.mark('t|0', 't', 0, '1', via, owned);
    await flush();
    requests[0]?.answer();
    await hops(n);
    committer.mark('t|0', 't', 0, '2', via, owned);
    for (let i = 0; i < 5; i++) {
      await flush();
      for (const r of requests.slice(1)) r.answer();
    }
    await committer.flush();
    expect(requests.map((r) => r.request.topics[0]?.partitions[0]?.offset)).toEqual(['2', '3']);
    expect(committer.outstanding('t|0')).toBe(0);
  });
});

describe('kafka OffsetCommitter: a rebalance or consumer restart during a commit', () => {
  it('forgotten partitions no longer count the commit in flight of the old run: their lanes are not held back by it', async () => {
    const { requests, via } = manualCommits();
    const committer = new OffsetCommitter(noopLogger, 'test');
    for (let i = 0; i <= COMMIT_EVERY; i++) committer.mark('t|0', 't', 0, String(i), via, owned);
    requests[0]?.answer(); // the first mark's commit; the next one carries the COMMIT_EVERY others
    await flush();
    expect(requests).toHaveLength(2);
    expect(committer.outstanding('t|0')).toBe(COMMIT_EVERY);
    committer.forget(() => false); // the consumer crashed: kafkajs restarts it from the committed offsets
    expect(committer.outstanding('t|0')).toBe(0);
    await committer.room('t|0'); // at once, though the old run's commit never answered
    for (const r of requests) r.answer(new Error('The coordinator is not available'));
    await committer.flush();
  });
});
