import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import { type LockStore, type TryLockRequest, type TryLockResponse, type UnlockRequest, type UnlockResponse, UnlockStatus } from '../../src/spi/lock.store';

interface Lease {
  readonly owner: string;
  readonly expiresAt: number;
}

/**
 * `lock.in-memory` (Dapr's in-memory lock): leases in a Map of this process, expiring on the injected
 * clock. Fencing tokens count per resource for the life of the process. One process only: for tests
 * and single-instance apps.
 */
export class MemoryLockStore implements LockStore {
  private readonly leases = new Map<string, Lease>();
  private readonly fences = new Map<string, bigint>();
  private clock!: Clock;

  async init(init: ComponentInit): Promise<void> {
    this.clock = init.clock;
  }

  async close(): Promise<void> {
    this.leases.clear();
  }

  async tryLock(request: TryLockRequest): Promise<TryLockResponse> {
    if (this.live(request.resourceId)) return { success: false };
    this.leases.set(request.resourceId, { owner: request.lockOwner, expiresAt: this.clock.now() + request.expiryInSeconds * 1000 });
    const token = (this.fences.get(request.resourceId) ?? 0n) + 1n;
    this.fences.set(request.resourceId, token);
    return { success: true, fencingToken: token.toString() };
  }

  async unlock(request: UnlockRequest): Promise<UnlockResponse> {
    const lease = this.live(request.resourceId);
    if (!lease) return { status: UnlockStatus.LockDoesNotExist };
    if (lease.owner !== request.lockOwner) return { status: UnlockStatus.LockBelongsToOthers };
    this.leases.delete(request.resourceId);
    return { status: UnlockStatus.Success };
  }

  private live(resourceId: string): Lease | undefined {
    const lease = this.leases.get(resourceId);
    if (lease && lease.expiresAt <= this.clock.now()) {
      this.leases.delete(resourceId);
      return undefined;
    }
    return lease;
  }
}

export const memoryLockFactory: ComponentFactory<MemoryLockStore> = {
  type: 'lock.in-memory',
  kind: 'lock',
  versions: ['v1'],
  create: () => new MemoryLockStore(),
};
