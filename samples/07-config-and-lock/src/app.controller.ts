import { ConflictException, Controller, Get, NotFoundException, Post } from '@nestjs/common';
import { LockHeldError } from '@sidekick/core';
import { FeatureFlags, type FlagState } from './feature-flags.service';
import { type Report, ReportJob } from './report.job';

@Controller()
export class AppController {
  constructor(
    private readonly flags: FeatureFlags,
    private readonly job: ReportJob,
  ) {}

  /** The flag as this process sees it now. */
  @Get('flag')
  flag(): FlagState {
    return this.flags.snapshot();
  }

  /** The report of the latest run, whichever process ran it. */
  @Get('report')
  async report(): Promise<Report> {
    const report = await this.job.lastReport();
    if (!report) throw new NotFoundException('no report yet: the job has not run');
    return report;
  }

  /** Runs the job now, in this process: 201 with its report, or 409 while another run holds the lock. */
  @Post('report')
  async runNow(): Promise<Report> {
    try {
      return await this.job.run();
    } catch (err) {
      if (err instanceof LockHeldError) throw new ConflictException(err.message);
      throw err;
    }
  }
}
