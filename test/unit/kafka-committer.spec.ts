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
