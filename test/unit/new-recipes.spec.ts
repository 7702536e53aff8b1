import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { RECIPES } from '../../src/cli/commands/new.samples';
import { parseComponent } from '../../src/config/component.loader';
import { BUILTIN_COMPONENT_TYPES } from '../../src/runtime/components/builtin-types';

/** `sidekick new`'s recipes (src/cli/commands/new.samples.ts) against the samples they describe. */

const SAMPLES = join(__dirname, '../../samples');
const samples = readdirSync(SAMPLES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
  .map((d) => d.name)
  .sort();
const TYPES = new Set(BUILTIN_COMPONENT_TYPES.map((f) => f.type));
const EMBEDDED_TYPES =
  /^(state\.sqlite|state\.in-memory|pubsub\.in-memory|bindings\.cron|configuration\.in-memory|lock\.in-memory|secretstores\.local\.(env|file))$/;

test('every sample has a recipe, and every recipe a sample', () => {
  expect(Object.keys(RECIPES).sort()).toEqual(samples);
});

describe.each(samples)('%s', (sample) => {
  const recipe = RECIPES[sample]!;
  const dir = join(SAMPLES, sample);

  test('npm start runs a file the sample compiles, and the files the recipe moves exist in the sample', () => {
    const main = /^node (dist\/(\S+)\.js)$/.exec(recipe.start);
    expect(main).not.toBeNull();
    expect(existsSync(join(dir, 'src', `${main![2]}.ts`))).toBe(true);
    for (const backend of recipe.backends) for (const file of backend.files) expect([file, existsSync(join(dir, file))]).toEqual([file, true]);
    for (const content of Object.values(recipe.embedded)) if (typeof content !== 'string') expect(existsSync(join(dir, content.from))).toBe(true);
  });

  test('the embedded components are valid component files of types that need no service', () => {
    for (const [file, content] of Object.entries(recipe.embedded)) {
      const text = typeof content === 'string' ? content : readFileSync(join(dir, content.from), 'utf8');
      const docs = parseAllDocuments(text);
      for (const doc of Array.isArray(docs) ? docs : [docs]) {
        const body = doc.toJS() as { kind?: string };
        if (body.kind !== 'Component') {
          expect([file, body.kind]).toEqual([file, 'Configuration']);
          continue;
        }
        const spec = parseComponent(body, file);
        expect(TYPES.has(spec.type)).toBe(true);
        expect([file, spec.type]).toEqual([file, expect.stringMatching(EMBEDDED_TYPES)]);
      }
    }
  });

  test('every component of the sample is kept: moved to a backend folder or copied into components/', () => {
    const componentsDir = join(dir, 'components');
    if (!existsSync(componentsDir)) return;
    const files = readdirSync(componentsDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => `components/${f}`);
    const kept = new Set([
      ...recipe.backends.flatMap((b) => b.files),
      ...Object.values(recipe.embedded).flatMap((c) => (typeof c === 'string' ? [] : [c.from])),
    ]);
    expect(files.filter((f) => !kept.has(f))).toEqual([]);
  });
});
