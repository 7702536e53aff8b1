import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors/config.errors';
import { SidekickError } from '../../src/errors/sidekick.error';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { type LocalStorageBinding, localStorageBindingFactory } from './localstorage.binding';
import { componentInit } from '../../src/spi/metadata-reader';

describe('bindings.localstorage', () => {
  const base = mkdtempSync(join(tmpdir(), 'sidekick-localstorage-'));
  const root = join(base, 'files', 'nested'); // created by init
  const outside = join(base, 'outside');
  let store: LocalStorageBinding;

  async function openStore(md: ComponentMetadata): Promise<LocalStorageBinding> {
    const binding = localStorageBindingFactory.create();
    await binding.init(
      componentInit({
        name: 'files',
        type: 'bindings.localstorage',
        appId: 'app',
        metadata: md,
        clock: new SystemClock(),
        logger: noopLogger,
        source: 'components/files.yaml',
      }),
    );
    return binding;
  }

  const call = (operation: string, metadata: Record<string, string> = {}, data = Buffer.alloc(0)) => store.invoke({ operation, data, metadata });

  beforeAll(async () => {
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    store = await openStore({ rootPath: root });
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('creates rootPath, writes the bytes as given and reports the file name', async () => {
    expect(existsSync(root)).toBe(true);
    const bytes = Buffer.from([0, 1, 2, 255, 0x22]);
    const res = await call('create', { fileName: 'a/b/c.bin' }, bytes);
    expect(res.metadata).toEqual({ fileName: 'a/b/c.bin' });
    expect(JSON.parse(res.data?.toString() ?? '')).toEqual({ fileName: 'a/b/c.bin' });
    expect(readFileSync(join(root, 'a', 'b', 'c.bin'))).toEqual(bytes);
  });

  it('create without fileName picks a random UUID', async () => {
    const res = await call('create', {}, Buffer.from('anon'));
    const name = res.metadata?.['fileName'] ?? '';
    expect(name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(readFileSync(join(root, name), 'utf8')).toBe('anon');
    await call('delete', { fileName: name });
  });

  it('get returns the bytes; a missing file is an error', async () => {
    await call('create', { fileName: 'hello.txt' }, Buffer.from('hi there'));
    expect((await call('get', { fileName: 'hello.txt' })).data?.toString()).toBe('hi there');
    expect((await call('get', { fileName: 'x/../hello.txt' })).data?.toString()).toBe('hi there');
    await expect(call('get', { fileName: 'nope.txt' })).rejects.toThrow('localstorage files: reading nope.txt: file not found');
    await expect(call('get', {})).rejects.toThrow('metadata fileName is required for get');
  });

  it('list returns the relative paths under rootPath, or under the folder fileName names', async () => {
    await call('create', { fileName: 'dir/one' }, Buffer.from('1'));
    await call('create', { fileName: 'dir/sub/two' }, Buffer.from('2'));
    const all = JSON.parse((await call('list')).data?.toString() ?? '') as string[];
    expect(all).toEqual(expect.arrayContaining(['a/b/c.bin', 'hello.txt', 'dir/one', 'dir/sub/two']));
    expect(JSON.parse((await call('list', { fileName: 'dir' })).data?.toString() ?? '')).toEqual(['dir/one', 'dir/sub/two']);
    await expect(call('list', { fileName: 'missing-dir' })).rejects.toThrow('file not found');
  });

  it('never names an absolute path in the errors it returns (they reach HTTP clients)', async () => {
    await call('create', { fileName: 'plain.txt' }, Buffer.from('x'));
    // ENOTDIR: Node's own message names the absolute path; the caller gets the code only.
    const err = await call('create', { fileName: 'plain.txt/under' }, Buffer.from('y')).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/ENOTDIR/);
    expect(err?.message).not.toContain(base);
  });

  it('delete removes the file; deleting a missing file is an error', async () => {
    await call('create', { fileName: 'gone.txt' }, Buffer.from('x'));
    await call('delete', { fileName: 'gone.txt' });
    expect(existsSync(join(root, 'gone.txt'))).toBe(false);
    await expect(call('delete', { fileName: 'gone.txt' })).rejects.toThrow('deleting gone.txt: file not found');
  });

  it.each([
    ['../x', 'it leads outside rootPath'],
    ['/etc/passwd', 'absolute paths are not allowed'],
    ['a/../../x', 'it leads outside rootPath'],
    ['a/../../../outside/secret.txt', 'it leads outside rootPath'],
  ])('refuses fileName %s for every operation', async (fileName, why) => {
    for (const op of ['create', 'get', 'list', 'delete']) {
      const err: unknown = await call(op, { fileName }, Buffer.from('pwned')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SidekickError);
      expect((err as SidekickError).code).toBe('ERR_INVOKE_OUTPUT_BINDING');
      expect((err as Error).message).toBe(`localstorage files: fileName "${fileName}" is refused: ${why}`);
    }
    expect(existsSync(join(root, '..', 'x'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('refuses paths that leave rootPath through a symbolic link', async () => {
    symlinkSync(outside, join(root, 'link-dir'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'link-file'));
    symlinkSync(join(outside, 'not-yet.txt'), join(root, 'dangling'));
    await expect(call('get', { fileName: 'link-dir/secret.txt' })).rejects.toThrow('through a symbolic link');
    await expect(call('get', { fileName: 'link-file' })).rejects.toThrow('through a symbolic link');
    await expect(call('create', { fileName: 'link-dir/new.txt' }, Buffer.from('x'))).rejects.toThrow('through a symbolic link');
    await expect(call('create', { fileName: 'link-file' }, Buffer.from('x'))).rejects.toThrow('through a symbolic link');
    await expect(call('create', { fileName: 'dangling' }, Buffer.from('x'))).rejects.toThrow('refused to follow a symbolic link');
    await expect(call('delete', { fileName: 'link-dir/secret.txt' })).rejects.toThrow('through a symbolic link');
    await expect(call('list', { fileName: 'link-dir' })).rejects.toThrow('through a symbolic link');
    expect(existsSync(join(outside, 'new.txt'))).toBe(false);
    expect(existsSync(join(outside, 'not-yet.txt'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('rejects a missing, disallowed or non-directory rootPath with a ConfigError', async () => {
    const file = join(base, 'plain-file');
    writeFileSync(file, 'x');
    const cases: [ComponentMetadata, RegExp][] = [
      [{}, /spec\.metadata\.rootPath: rootPath is required/],
      [{ rootPath: '/proc/self' }, /disallowed location/],
      [{ rootPath: file }, /cannot use rootPath/],
    ];
    for (const [md, message] of cases) {
      const err: unknown = await openStore(md).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
    }
  });
});
