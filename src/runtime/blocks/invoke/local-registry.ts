import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppAddress, NameResolver } from '../../../spi/name-resolver';

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
 * A folder on this machine (`<tmp>/sidekick-apps/<appId>/<pid>.json`) that running apps join on
 * bootstrap and leave on shutdown. Entries of processes that died are ignored (and cleaned up).
 */
export class LocalRegistry implements NameResolver {
  readonly name = 'local-registry';
  private next = 0;

  constructor(private readonly dir: string) {}

  join(app: RegisteredApp): void {
    const folder = join(this.dir, encodeURIComponent(app.appId));
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `${app.pid}.json`), JSON.stringify(app, null, 2));
  }

  leave(appId: string, pid: number): void {
    rmSync(join(this.dir, encodeURIComponent(appId), `${pid}.json`), { force: true });
  }

  /** Every live app on this machine (what `sidekick list` prints). */
  list(): RegisteredApp[] {
    let ids: string[];
    try {
      ids = readdirSync(this.dir);
    } catch {
      return [];
    }
    return ids.flatMap((id) => this.instances(decodeURIComponent(id)));
  }

  async resolve(appId: string): Promise<AppAddress | undefined> {
    const live = this.instances(appId);
    if (live.length === 0) return undefined;
    const chosen = live[this.next++ % live.length] as RegisteredApp;
    return { appId, baseUrl: chosen.baseUrl };
  }

  private instances(appId: string): RegisteredApp[] {
    const folder = join(this.dir, encodeURIComponent(appId));
    let files: string[];
    try {
      files = readdirSync(folder).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    const live: RegisteredApp[] = [];
    for (const file of files) {
      const path = join(folder, file);
      let app: RegisteredApp;
      try {
        app = JSON.parse(readFileSync(path, 'utf8')) as RegisteredApp;
      } catch {
        continue; // being written or corrupt: not an instance we can use
      }
      if (isAlive(app.pid)) live.push(app);
      else rmSync(path, { force: true });
    }
    return live;
  }
}

function isAlive(pid: number): boolean {
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
