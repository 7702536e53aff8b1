import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, realpath, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { BindingRequest, BindingResponse, OutputBinding } from '../../src/spi/binding';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';

/** Root paths daprd refuses (see dapr/components-contrib#2444). */
const DISALLOWED_ROOTS = ['/proc', '/sys', '/boot', '/var/run/secrets'];
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/**
 * `bindings.localstorage` (output): files under `rootPath` (created if missing).
 * - `create`: writes the request bytes as given to `fileName` (default: a random UUID), creating
 *   folders; returns `{"fileName": "<relative path>"}` as data (as daprd) and metadata `fileName`.
 * - `get`: the file's bytes; a missing file is an error.
 * - `list`: a JSON array of the files (relative paths, `/`-separated, sorted) under `rootPath`, or
 *   under the folder named by `fileName`.
 * - `delete`: removes `fileName`; a missing file is an error (as daprd).
 * A `fileName` that is absolute, or that leads outside `rootPath` (`..`, or through a symlink), is refused.
 */
export class LocalStorageBinding implements OutputBinding {
  readonly operations: readonly string[] = ['create', 'get', 'list', 'delete'];
  private name = 'localstorage';
  private root = '';
  private logger!: SidekickLogger;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    const meta = init.meta;
    const rootPath = meta.required('rootPath', 'the folder files are stored in, e.g. ./data/files');
    const wanted = resolve(process.cwd(), rootPath);
    const refuse = (root: string): void => {
      if (DISALLOWED_ROOTS.some((p) => root === p || root.startsWith(p + sep))) {
        throw meta.error('rootPath', `rootPath ${root} is in a disallowed location (${DISALLOWED_ROOTS.join(', ')})`);
      }
    };
    refuse(wanted);
    try {
      await mkdir(wanted, { recursive: true });
      this.root = await realpath(wanted);
      if (!(await lstat(this.root)).isDirectory()) throw new Error('it is not a directory');
    } catch (err) {
      throw meta.error('rootPath', `cannot use rootPath ${wanted}: ${errorMessage(err)}`);
    }
    refuse(this.root);
  }

  async close(): Promise<void> {}

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    const fileName = req.metadata['fileName'] ?? '';
    switch (req.operation) {
      case 'create':
        return this.create(fileName || randomUUID(), req.data);
      case 'get':
        return { data: await this.get(this.required(fileName, 'get')) };
      case 'list':
        return { data: Buffer.from(JSON.stringify(await this.list(fileName))) };
      case 'delete':
        await this.remove(this.required(fileName, 'delete'));
        return {};
      default:
        throw this.error(`unsupported operation ${req.operation}; supported: ${this.operations.join(', ')}`);
    }
  }

  private async create(fileName: string, data: Buffer): Promise<BindingResponse> {
    const { path, rel } = await this.resolve(fileName);
    if (rel === '') throw this.error('fileName must name a file, not rootPath itself');
    await this.io(`creating ${rel}`, async () => {
      await mkdir(dirname(path), { recursive: true });
      await this.resolve(fileName); // the folders just made (or found) are still inside rootPath
      const handle = await open(path, WRITE_FLAGS, 0o666);
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
    });
    this.logger.debug({ binding: this.name, fileName: rel, bytes: data.length }, 'wrote file');
    return { data: Buffer.from(JSON.stringify({ fileName: rel })), metadata: { fileName: rel } };
  }

  private async get(fileName: string): Promise<Buffer> {
    const { path, rel } = await this.resolve(fileName);
    return this.io(`reading ${rel}`, () => readFile(path));
  }

  private async list(folder: string): Promise<string[]> {
    const { path, rel } = await this.resolve(folder);
    const files: string[] = [];
    await this.io(`listing ${rel || '.'}`, async () => {
      if (!(await lstat(path)).isDirectory()) throw new Error('not a directory');
      await walk(path, this.root, files);
    });
    return files.sort();
  }

  private async remove(fileName: string): Promise<void> {
    const { path, rel } = await this.resolve(fileName);
    if (rel === '') throw this.error('fileName must name a file, not rootPath itself');
    await this.io(`deleting ${rel}`, () => unlink(path));
    this.logger.debug({ binding: this.name, fileName: rel }, 'removed file');
  }

  /**
   * `fileName` as an absolute path inside rootPath and as the path relative to it. Refuses absolute
   * names and names whose deepest existing ancestor (the file itself if it exists) resolves outside.
   */
  private async resolve(fileName: string): Promise<{ path: string; rel: string }> {
    if (fileName.includes('\0')) throw this.escape(fileName, 'it contains a NUL byte');
    if (isAbsolute(fileName) || /^[A-Za-z]:|^[\\/]/.test(fileName)) throw this.escape(fileName, 'absolute paths are not allowed');
    const path = resolve(this.root, fileName);
    if (!inside(this.root, path)) throw this.escape(fileName, 'it leads outside rootPath');
    let existing = path;
    for (;;) {
      try {
        const real = await realpath(existing);
        if (!inside(this.root, real)) throw this.escape(fileName, 'it leads outside rootPath through a symbolic link');
        break;
      } catch (err) {
        if (err instanceof SidekickError) throw err;
        if ((err as { code?: unknown }).code !== 'ENOENT' || existing === this.root) throw this.error(`cannot resolve ${fileName}: ${this.reason(err)}`, err);
        existing = dirname(existing);
      }
    }
    return { path, rel: relative(this.root, path).split(sep).join('/') };
  }

  private required(fileName: string, operation: string): string {
    if (!fileName) throw this.error(`metadata fileName is required for ${operation}`);
    return fileName;
  }

  private async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SidekickError) throw err;
      const code = (err as { code?: unknown }).code;
      if (code === 'ENOENT') throw this.error(`${what}: file not found`, err);
      if (code === 'ELOOP') throw this.error(`${what}: refused to follow a symbolic link`, err);
      throw this.error(`${what}: ${this.reason(err)}`, err);
    }
  }

  /** An fs error's code for the caller (its message names absolute paths, which stay in the log). */
  private reason(err: unknown): string {
    const code = (err as { code?: unknown }).code;
    this.logger.warn({ err: errorMessage(err) }, 'localstorage I/O failed');
    return typeof code === 'string' ? code : 'I/O error';
  }

  private escape(fileName: string, why: string): SidekickError {
    return new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `localstorage ${this.name}: fileName "${fileName}" is refused: ${why}`, {
      component: this.name,
      field: 'fileName',
    });
  }

  private error(message: string, cause?: unknown): SidekickError {
    return new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `localstorage ${this.name}: ${message}`, { component: this.name, cause });
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Every non-directory entry under `dir` (symbolic links are listed, never followed). */
async function walk(dir: string, root: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, root, out);
    else out.push(relative(root, path).split(sep).join('/'));
  }
}

export const localStorageBindingFactory: ComponentFactory<LocalStorageBinding> = {
  type: 'bindings.localstorage',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new LocalStorageBinding(),
};
