import type { EachBatchPayload, KafkaMessage } from 'kafkajs';

/**
 * Batches of one partition fetched ahead of its handlers; more pause it (a memory bound). Generous, as a
 * resumed partition waits for kafkajs's next fetch round (up to 500 ms): 2 gave 0.69x raw kafkajs, 16 0.97x.
 */
export const READ_AHEAD = 16;

/**
 * Longest a busy partition holds up the fetch loop (see onBatch). 5 ms: 0.99-1.02x raw kafkajs in bursts,
 * latency as raw; 20 ms had the same throughput but put a 20 ms mode into one-at-a-time latency (p90 18 ms).
 */
const BUSY_WAIT_MS = 5;

/** One partition's records waiting for, or in, its handler. */
export interface Lane {
  /** The offset kafkajs fetches this partition from next (unset: from the committed offset). */
  next?: bigint;
  readonly queue: { readonly payload: EachBatchPayload; readonly messages: readonly KafkaMessage[]; readonly incarnation: number }[];
  running: boolean;
  /** A failed record waits for `consumeRetryInterval`, the partition paused. */
  retrying: boolean;
  /** Set while the partition is paused (read-ahead full, or retrying). */
  resume?: () => void;
  done: Promise<void>;
  /** Wakes a fetch loop waiting for this lane to finish a batch (see onBatch). */
  progressed?: () => void;
}

/** Resolves when the lane finishes a batch, or after BUSY_WAIT_MS (see KafkaGroupConsumer.onBatch). */
export function laneProgress(lane: Lane): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(wake, BUSY_WAIT_MS);
    timer.unref();
    function wake(): void {
      clearTimeout(timer);
      if (lane.progressed === wake) lane.progressed = undefined;
      resolve();
    }
    lane.progressed?.();
    lane.progressed = wake;
  });
}
