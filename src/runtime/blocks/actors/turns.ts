import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { ActorError, ActorTurnError } from '../../../errors/actor.errors';

/** The call chain a piece of actor code runs in (Dapr's `Dapr-Reentrancy-Id`). */
export interface CallChain {
  readonly id: string;
  /** Nested actor calls so far in this chain. */
  readonly depth: number;
}

const chains = new AsyncLocalStorage<CallChain>();

/** The chain of the running actor code, if any. */
export function currentChain(): CallChain | undefined {
  return chains.getStore();
}

/** The chain a new call joins: the given id (from a header), the running code's, or a new one. */
export function chainFor(id: string | undefined): CallChain {
  const running = chains.getStore();
  if (id !== undefined && id !== '') return { id, depth: running?.id === id ? running.depth + 1 : 1 };
  return running ? { id: running.id, depth: running.depth + 1 } : { id: randomUUID(), depth: 1 };
}

export function runInChain<T>(chain: CallChain, fn: () => Promise<T>): Promise<T> {
  return chains.run(chain, fn);
}

export interface TurnPolicy {
  readonly type: string;
  readonly id: string;
  readonly reentrant: boolean;
  readonly maxStackDepth: number;
  /** How long a call waits for its turn before failing (real time). */
  readonly waitTimeoutMs: number;
}

interface Waiter {
  readonly chain: CallChain;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * One actor's turns: one call at a time, in arrival order. With reentrancy, a call of the chain that
 * holds the turn runs at once (up to the stack depth); without it, such a call would wait for itself
 * forever, so it fails at once naming the cycle. A call that waits longer than `waitTimeoutMs` fails.
 */
export class TurnLock {
  private holder?: string;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly policy: TurnPolicy) {}

  get busy(): boolean {
    return this.holder !== undefined || this.waiting.length > 0;
  }

  /**
   * Runs `fn` in the actor's turn. `reentered` tells `fn` whether it runs inside a turn its chain
   * already holds (the outer call then saves the state).
   */
  async run<T>(chain: CallChain, fn: (reentered: boolean) => Promise<T>): Promise<T> {
    if (chain.depth > this.policy.maxStackDepth && this.policy.reentrant) {
      throw new ActorError(
        'ERR_ACTOR_STACK_DEPTH',
        `maximum stack depth exceeded: call chain ${chain.id} reached ${chain.depth} nested actor calls at ${this.policy.type}/${this.policy.id} (reentrancy.maxStackDepth is ${this.policy.maxStackDepth})`,
      );
    }
    if (this.holder === chain.id) {
      if (!this.policy.reentrant) {
        throw new ActorTurnError(
          `error invoke actor method: call chain ${chain.id} re-entered actor ${this.policy.type}/${this.policy.id} while it was already inside it (A -> B -> A); reentrancy is disabled for ${this.policy.type}, so this call would wait for itself forever. Enable it with @Actor({ reentrancy: { enabled: true } })`,
        );
      }
      return runInChain(chain, () => fn(true));
    }
    if (this.holder !== undefined || this.waiting.length > 0) await this.wait(chain);
    else this.holder = chain.id;
    try {
      return await runInChain(chain, () => fn(false));
    } finally {
      this.release();
    }
  }

  private wait(chain: CallChain): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { chain, resolve, reject };
      waiter.timer = setTimeout(() => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(
          new ActorTurnError(
            `error invoke actor method: actor ${this.policy.type}/${this.policy.id} stayed busy for ${this.policy.waitTimeoutMs} ms (actors.turnTimeoutMs); a call chain that re-enters an actor without reentrancy (A -> B -> A over HTTP without a Dapr-Reentrancy-Id header) waits for itself like this`,
          ),
        );
      }, this.policy.waitTimeoutMs);
      waiter.timer.unref();
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.holder = undefined;
      return;
    }
    // Hand the turn straight to the next caller: nobody arriving meanwhile can overtake it.
    clearTimeout(next.timer);
    this.holder = next.chain.id;
    next.resolve();
  }
}
