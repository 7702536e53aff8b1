import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../errors/config.errors';
import type { AppAddress, NameResolver } from '../../../spi/name-resolver';
import { isValidAppId } from './app-id';

const ENTRY = /^([1-9][0-9]{0,9})\.json$/;

/** What a running app writes into the machine-local registry. */
export interface RegisteredApp {
  readonly appId: string;
  readonly pid: number;
  /** The app's own HTTP server, e.g. `http://127.0.0.1:3000`. */
  readonly baseUrl: string;
  /** Its Dapr HTTP API, e.g. `http://127.0.0.1:3500`. */
  readonly httpApiUrl?: string;
  readonly startedAt: string;
}

/**
 * A folder on this machine (`<tmp>/sidekick-apps-<uid>/<appId>/<pid>.json`) that running apps join on
 * bootstrap and leave on shutdown. Entries of processes that died are ignored (and cleaned up).
 *
 * The folder decides where invocations go, so it is trusted only when it is this user's: it is
 * created with mode 0700, and one owned by another user or writable by others is refused. Only
 * valid app ids name sub-folders, and only `<pid>.json` files whose content names that same pid and
 * app id are read (or removed once their process is gone).
 */
export class LocalRegistry implements NameResolver {
  readonly name = 'local-registry';
  private next = 0;
  private safe = false;

  constructor(private readonly dir: string) {}

  join(app: RegisteredApp): void {
    if (!isValidAppId(app.appId)) throw new ConfigError(`app id "${app.appId}" cannot join the local registry: it is not a valid app id`);
    this.ensureSafe(true);
    const folder = join(this.dir, app.appId);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.checkFolder(folder);
    writeFileSync(join(folder, `${app.pid}.json`), JSON.stringify(app, null, 2), { mode: 0o600 });
  }

  leave(appId: string, pid: number): void {
    if (!isValidAppId(appId) || !Number.isInteger(pid)) return;
    rmSync(join(this.dir, appId, `${pid}.json`), { force: true });
  }

  /** Every live app on this machine (what `sidekick list` prints). */
  list(): RegisteredApp[] {
    let ids: string[];
    try {
      if (!this.ensureSafe(false)) return [];
      ids = readdirSync(this.dir);
    } catch {
      return [];
    }
    return ids.filter(isValidAppId).flatMap((id) => this.instances(id));
  }

  async resolve(appId: string): Promise<AppAddress | undefined> {
    const live = this.instances(appId);
    if (live.length === 0) return undefined;
    const chosen = live[this.next++ % live.length] as RegisteredApp;
    return { appId, baseUrl: chosen.baseUrl };
  }

  private instances(appId: string): RegisteredApp[] {
    if (!isValidAppId(appId)) return [];
    const folder = join(this.dir, appId);
    let files: string[];
    try {
      if (!this.ensureSafe(false)) return [];
      this.checkFolder(folder);
      files = readdirSync(folder);
    } catch {
      return [];
    }
    const live: RegisteredApp[] = [];
    for (const file of files) {
      const pid = Number(ENTRY.exec(file)?.[1]);
      if (!pid) continue; // not an entry this registry writes
      const path = join(folder, file);
      let app: Partial<RegisteredApp>;
      try {
        app = JSON.parse(readFileSync(path, 'utf8')) as Partial<RegisteredApp>;
      } catch {
        continue; // being written or corrupt: not an instance we can use
      }
      if (app.pid !== pid || app.appId !== appId || typeof app.baseUrl !== 'string' || !/^https?:\/\//.test(app.baseUrl)) continue;
      if (isAlive(pid)) live.push(app as RegisteredApp);
      else rmSync(path, { force: true });
    }
    return live;
  }

  /**
   * The registry folder exists (created 0700 when `create`), is a real folder owned by this user and
   * not writable by others. Throws a `ConfigError` saying what to do otherwise; false when it does
   * not exist and `create` is false.
   */
  /** Creates the folder (0700) or checks the one there; throws a `ConfigError` saying what to do when it is not safe. */
  prepare(): void {
    this.ensureSafe(true);
  }

  private ensureSafe(create: boolean): boolean {
    if (this.safe) return true;
    if (create) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      lstatSync(this.dir);
    } catch {
      return false;
    }
    this.checkFolder(this.dir);
    this.safe = true;
    return true;
  }

  private checkFolder(path: string): void {
    const st = lstatSync(path);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    const problem = !st.isDirectory()
      ? 'is not a folder (a symbolic link or a file)'
      : uid !== undefined && st.uid !== uid
        ? `is owned by another user (uid ${st.uid})`
        : (st.mode & 0o022) !== 0
          ? `is writable by other users (mode ${(st.mode & 0o777).toString(8)})`
          : undefined;
    if (problem) {
      throw new ConfigError(
        `the local registry folder ${path} ${problem}: refusing to use it, since it decides where invocations go. ` +
          'Remove it, or set SIDEKICK_REGISTRY_DIR (nameResolution.localRegistry) to a folder of your own.',
      );
    }
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** App ids mapped to base URLs from configuration. */
export class StaticNameResolver implements NameResolver {
  readonly name = 'static';

  constructor(private readonly map: Readonly<Record<string, string>>) {}

  async resolve(appId: string): Promise<AppAddress | undefined> {
    const url = this.map[appId];
    return url === undefined ? undefined : { appId, baseUrl: url.replace(/\/+$/, '') };
  }
}
