import { SidekickError } from '../errors/sidekick.error';

/** Lets building blocks wait until components are loaded, without a check on every hot call once ready. */
export class Readiness {
  ready = false;
  private resolveFn!: () => void;
  private rejectFn!: (err: Error) => void;
  readonly promise: Promise<void>;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    // A start-up failure is reported by Nest; callers waiting on `promise` get it too.
    this.promise.catch(() => undefined);
  }

  markReady(): void {
    this.ready = true;
    this.resolveFn();
  }

  markFailed(err: Error): void {
    this.rejectFn(new SidekickError('ERR_NOT_STARTED', `Sidekick failed to start: ${err.message}`, { cause: err }));
  }
}
