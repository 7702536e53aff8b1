import { resolveOptions } from '../../src/runtime/sidekick.options';

describe('workflow runtime options (leases between processes)', () => {
  it('defaults to a 10 s lease and a 100 ms inbox poll; SIDEKICK_WORKFLOW_LEASE_MS and forRoot set the lease', () => {
    expect(resolveOptions({ appId: 'a' }, {}).workflows).toEqual({ leaseMs: 10_000, pollMs: 100, activities: 'local' });
    expect(resolveOptions({ appId: 'a' }, { SIDEKICK_WORKFLOW_LEASE_MS: '1500' }).workflows.leaseMs).toBe(1500);
    expect(resolveOptions({ appId: 'a', workflows: { leaseMs: 3000, pollMs: 50 } }, { SIDEKICK_WORKFLOW_LEASE_MS: '1500' }).workflows).toEqual({
      leaseMs: 3000,
      pollMs: 50,
      activities: 'local',
    });
    expect(resolveOptions({ appId: 'a', workflows: { activities: 'shared' } }, {}).workflows.activities).toBe('shared');
  });

  it('refuses a lease that is not a whole number of at least 300 ms, naming where it came from', () => {
    expect(() => resolveOptions({ appId: 'a' }, { SIDEKICK_WORKFLOW_LEASE_MS: 'soon' })).toThrow(
      /workflow lease "soon" must be a whole number of milliseconds, at least 300/,
    );
    expect(() => resolveOptions({ appId: 'a' }, { SIDEKICK_WORKFLOW_LEASE_MS: 'soon' })).toThrow(
      expect.objectContaining({ field: 'SIDEKICK_WORKFLOW_LEASE_MS' }) as Error,
    );
    expect(() => resolveOptions({ appId: 'a', workflows: { leaseMs: 100 } }, {})).toThrow(expect.objectContaining({ field: 'workflows.leaseMs' }) as Error);
    expect(() => resolveOptions({ appId: 'a', workflows: { pollMs: 0 } }, {})).toThrow(expect.objectContaining({ field: 'workflows.pollMs' }) as Error);
    const bad = { appId: 'a', workflows: { activities: 'everywhere' as 'shared' } };
    expect(() => resolveOptions(bad, {})).toThrow(/workflows.activities "everywhere" must be 'local' or 'shared'/);
    expect(() => resolveOptions(bad, {})).toThrow(expect.objectContaining({ field: 'workflows.activities' }) as Error);
  });
});
