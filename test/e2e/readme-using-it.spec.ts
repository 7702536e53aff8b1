import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, ROOT } from '../support/processes';

/**
 * README "Using it" is a project a user copies: its tsconfig.json and ts blocks, each starting with a
 * `// <file>` line, are written to a scratch folder and compiled with tsc against the built package
 * (`@sidekick/core` resolves to dist/src/index.d.ts, as from the packed tarball), so the snippets
 * cannot drift from the API or lose an import.
 */

interface Snippet {
  readonly file: string;
  readonly text: string;
}

function usingItSnippets(): Snippet[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Using it\n');
  const end = readme.indexOf('\n### ', start);
  if (start < 0 || end < 0) throw new Error('README.md has no "## Using it" section followed by a ### heading');
  const section = readme.slice(start, end);
  return [...section.matchAll(/```(?:ts|json)\n(.*?)```/gs)].map((m) => {
    const text = m[1] ?? '';
    const file = /^\/\/ (\S+)/.exec(text)?.[1];
    if (!file) throw new Error(`a block of "Using it" does not start with a // <file> line:\n${text}`);
    return { file, text };
  });
}

function tsc(cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((ok) => {
    execFile(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', cwd, '--noEmit'], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

let dir: string;

beforeAll(async () => {
  await ensureBuilt([join(ROOT, 'dist/src/index.d.ts')]);
  dir = tempDir('sidekick-readme-using-it-');
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('README "Using it"', () => {
  it('shows the complete project: tsconfig.json, app.module.ts, order.controller.ts and main.ts', () => {
    const snippets = usingItSnippets();
    expect(snippets.map((s) => s.file)).toEqual(['tsconfig.json', 'src/app.module.ts', 'src/order.controller.ts', 'src/main.ts']);
    const main = snippets.find((s) => s.file === 'src/main.ts')?.text ?? '';
    expect(main).toContain('app.enableShutdownHooks()');
    expect(main).toContain("app.listen(3000, '127.0.0.1')");
    const config = snippets.find((s) => s.file === 'tsconfig.json')?.text ?? '';
    for (const setting of ['"experimentalDecorators": true', '"emitDecoratorMetadata": true', '"module": "commonjs"', '"target": "ES2022"', '"strict": true']) {
      expect(config).toContain(setting);
    }
  });

  it('compiles as it stands with tsc against the built @sidekick/core', async () => {
    for (const { file, text } of usingItSnippets()) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    // The repository's node_modules: @nestjs/*, @types/node, and @sidekick/core (the workspace link to the built package).
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const result = await tsc(dir);
    expect(result).toEqual({ code: 0, output: '' });
  }, 60_000);
});
