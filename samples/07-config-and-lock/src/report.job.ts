import { Injectable, Logger } from '@nestjs/common';
import { Binding, LockHeldError, SidekickClient, type StateClient, StateStore } from '@sidekick/core';
import { FeatureFlags } from './feature-flags.service';
import { JOB_DURATION_MS, JOB_RESOURCE, LOCK_STORE, SCHEDULE_BINDING, STATE_STORE } from './settings';

/** What one run writes to the state store under `last-report`. */
export interface Report {
  readonly fencingToken: string;
  readonly pid: number;
  readonly detailed: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/**
 * The job every process schedules (cron binding) and only the holder of the lock runs. Each run
 * gets a fencing token greater than every earlier one, and writes its report with it: a run whose
 * lease ran out (a long pause) cannot overwrite a newer run's report.
 */
@Injectable()
export class ReportJob {
  private readonly logger = new Logger('report-job');

  constructor(
    private readonly sidekick: SidekickClient,
    private readonly flags: FeatureFlags,
    @StateStore(STATE_STORE) private readonly reports: StateClient<Report>,
  ) {}

  /** Each tick of `report-schedule` (components/cron.yaml), in every process. */
  @Binding(SCHEDULE_BINDING)
  async onTick(): Promise<void> {
    try {
      await this.run();
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      this.logger.log(`skipped: the lock "${JOB_RESOURCE}" is held by another process`);
    }
  }

  /** One run under the lock; `LockHeldError` at once when another process (or call) holds it. */
  run(): Promise<Report> {
    return this.sidekick.lock.withLock(
      JOB_RESOURCE,
      async ({ fencingToken }) => {
        const started = Date.now();
        const detailed = this.flags.detailed;
        this.logger.log(`started: fencingToken=${fencingToken} detailed=${detailed ? 'on' : 'off'} t=${started}`);
        await new Promise((resolve) => setTimeout(resolve, JOB_DURATION_MS)); // the work
        const report: Report = {
          fencingToken,
          pid: process.pid,
          detailed,
          startedAt: new Date(started).toISOString(),
          finishedAt: new Date().toISOString(),
        };
        // Refused (FencingTokenStaleError) if a run with a newer token has written already.
        await this.reports.save('last-report', report, { metadata: { fencingToken } });
        this.logger.log(`finished: fencingToken=${fencingToken} t=${Date.now()}`);
        return report;
      },
      // The lease: the lock frees itself after 30 s even if this process dies while holding it.
      { store: LOCK_STORE, expiryInSeconds: 30 },
    );
  }

  lastReport(): Promise<Report | undefined> {
    return this.reports.get('last-report');
  }
}
