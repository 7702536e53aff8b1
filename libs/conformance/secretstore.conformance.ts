import { randomUUID } from 'node:crypto';
import type { SecretStore } from '../../src/spi/secret.store';

/** Secrets to put in a store before the suite reads them: name → key/value map. */
export type SeedSecrets = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface SecretStoreConformanceSubject {
  readonly store: SecretStore;
  /** Closes the store and removes what the spec seeded. */
  cleanup(): Promise<void>;
}

export interface SecretStoreConformanceSetup {
  /**
   * A store holding `secrets` (and possibly others, e.g. the rest of the environment). For a
   * single-valued store each seeded map is `{ [name]: value }`.
   */
  create(secrets: SeedSecrets): Promise<SecretStoreConformanceSubject>;
  /** The store keeps several keys per secret (Vault, the file store with `multiValued`). */
  readonly multiValued: boolean;
  /** The store keeps versions: `write` adds a new version of a seeded secret (`metadata.version_id` reads an older one). */
  readonly versions?: { write(subject: SecretStoreConformanceSubject, name: string, values: Readonly<Record<string, string>>): Promise<void> };
}

/**
 * What every secret store must do, as one jest suite: read a secret (its whole key/value map), report
 * a missing one as `undefined`, return every seeded secret from a bulk read, accept request metadata
 * (and, for stores with versions, read an older version by `version_id`). Names are unique per run, so
 * stores on a shared server do not interfere.
 */
export function describeSecretStoreConformance(label: string, setup: SecretStoreConformanceSetup): void {
  describe(`${label}: secret store conformance`, () => {
    const run = randomUUID().replace(/-/g, '').slice(0, 8).toUpperCase();
    const name = (n: string): string => `SKCONF_${run}_${n}`;
    const single = (n: string, value: string): Record<string, Record<string, string>> => ({ [n]: { [n]: value } });
    const seeded: Record<string, Record<string, string>> = {
      ...single(name('PLAIN'), 'plain-value'),
      ...single(name('UNICODE'), 'pässwörd ✓ 秘密 "quoted" \\ back'),
      ...single(name('LONG'), 'x'.repeat(16 * 1024)),
      ...single(name('EMPTY_LOOKING'), ' '),
      ...(setup.multiValued ? { [name('MULTI')]: { username: 'admin', password: 's3cr3t', port: '5432' } } : {}),
    };
    let subject: SecretStoreConformanceSubject | undefined;
    let store: SecretStore;

    beforeAll(async () => {
      subject = await setup.create(seeded);
      store = subject.store;
    });

    afterAll(async () => {
      await subject?.cleanup();
    });

    it('gets a secret as its key/value map', async () => {
      await expect(store.getSecret(name('PLAIN'))).resolves.toEqual({ [name('PLAIN')]: 'plain-value' });
    });

    it('keeps values byte for byte: unicode, quotes, backslashes, 16 KiB, whitespace', async () => {
      for (const n of ['UNICODE', 'LONG', 'EMPTY_LOOKING']) {
        await expect(store.getSecret(name(n))).resolves.toEqual(seeded[name(n)]);
      }
    });

    it('reports a missing secret as undefined (not an error, not an empty value)', async () => {
      await expect(store.getSecret(name('MISSING'))).resolves.toBeUndefined();
    });

    it('bulk returns every secret with its map', async () => {
      const all = await store.bulkGetSecret();
      for (const [n, values] of Object.entries(seeded)) expect(all[n]).toEqual(values);
      expect(all[name('MISSING')]).toBeUndefined();
    });

    it('accepts request metadata it does not use (namespace), on get and bulk', async () => {
      await expect(store.getSecret(name('PLAIN'), { namespace: 'default', unknownKey: 'x' })).resolves.toEqual({ [name('PLAIN')]: 'plain-value' });
      const all = await store.bulkGetSecret({ namespace: 'default' });
      expect(all[name('PLAIN')]).toEqual({ [name('PLAIN')]: 'plain-value' });
    });

    if (setup.multiValued) {
      it('returns every key of a multi-valued secret', async () => {
        await expect(store.getSecret(name('MULTI'))).resolves.toEqual({ username: 'admin', password: 's3cr3t', port: '5432' });
      });
    }

    const versions = setup.versions;
    if (versions) {
      it('metadata version_id reads an older version; without it the latest', async () => {
        const n = name('PLAIN');
        if (!subject) throw new Error('store not created');
        await versions.write(subject, n, { [n]: 'second-value' });
        await expect(store.getSecret(n)).resolves.toEqual({ [n]: 'second-value' });
        await expect(store.getSecret(n, { version_id: '1' })).resolves.toEqual({ [n]: 'plain-value' });
        await expect(store.getSecret(n, { version_id: '2' })).resolves.toEqual({ [n]: 'second-value' });
        await expect(store.getSecret(n, { version_id: '99' })).resolves.toBeUndefined();
        const old = await store.bulkGetSecret({ version_id: '2' });
        expect(old[n]).toEqual({ [n]: 'second-value' });
        expect(old[name('UNICODE')]).toBeUndefined(); // it has no version 2: skipped, as daprd
      });
    }
  });
}
