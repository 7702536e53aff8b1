import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, progress } from '../shared/cli-error';
import { packageRoot, packageVersion } from '../shared/package-root';
import { RECIPES, type SampleRecipe } from './new.samples';
import { projectReadme, smokeTest } from './new.template';

/** Not copied: build output, installs, data. The top-level `components` is laid out by `layComponents`. */
const SKIP = new Set(['node_modules', 'dist', '.sidekick']);

/** The samples shipped in the package, with the first sentence of each README. */
export function listSamples(): { name: string; summary: string }[] {
  const dir = join(packageRoot(), 'samples');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name) && existsSync(join(dir, d.name, 'package.json')))
    .map((d) => {
      const pkg = JSON.parse(readFileSync(join(dir, d.name, 'package.json'), 'utf8')) as { description?: string };
      return { name: d.name, summary: pkg.description ?? '' };
    });
}

export function registerNew(program: Command): void {
  program
    .command('new')
    .description('creates a project from one of the samples, depending on the framework as a real dependency, then installs it')
    .argument('[dir]', 'the folder to create')
    .option('-s, --sample <name>', 'the sample to start from (sidekick new --list)', '01-hello-world')
    .option('--list', 'lists the samples')
    .option('--skip-install', 'do not run npm install')
    .option('--prefer-offline', "npm install --prefer-offline: packages from npm's cache when it has them")
    .option('--framework <spec>', 'the @sidekick/core dependency to write (default: this Sidekick, packed into the project)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sidekick new --list\n  $ sidekick new my-app --sample 02-pubsub\n  $ sidekick new my-app --skip-install\n  $ sidekick new my-app --sample 07-config-and-lock --prefer-offline',
    )
    .action(
      async (dir: string | undefined, options: { sample: string; list?: boolean; skipInstall?: boolean; preferOffline?: boolean; framework?: string }) => {
        const samples = listSamples();
        if (options.list) {
          for (const s of samples) process.stdout.write(`${s.name.padEnd(18)} ${s.summary}\n`);
          return;
        }
        if (!dir) throw new CliError('name the folder to create: sidekick new my-app [--sample 01-hello-world]');
        const sample = samples.find((s) => s.name === options.sample || s.name.slice(3) === options.sample);
        if (!sample) throw new CliError(`no sample "${options.sample}": choose one of ${samples.map((s) => s.name).join(', ')} (sidekick new --list)`);
        const target = resolve(dir);
        if (existsSync(target) && readdirSync(target).length > 0) throw new CliError(`${target} exists and is not empty: choose a new folder`);
        const recipe = RECIPES[sample.name];
        if (!recipe) throw new CliError(`sample ${sample.name} has no recipe for sidekick new (src/cli/commands/new.samples.ts): add one`);
        progress(`Creating ${target} from sample ${sample.name}`);
        const source = join(packageRoot(), 'samples', sample.name);
        cpSync(source, target, { recursive: true, filter: (src) => !SKIP.has(basename(src)) && src !== join(source, 'components') });
        layComponents(source, target, recipe);
        const framework = options.framework ?? (await packFramework(target));
        writePackageJson(target, recipe, framework);
        if (existsSync(join(target, 'README.md'))) renameSync(join(target, 'README.md'), join(target, 'SAMPLE.md'));
        writeFileSync(join(target, 'README.md'), projectReadme({ project: basename(target), sample: sample.name, summary: sample.summary, framework, recipe }));
        writeFileSync(join(target, '.gitignore'), 'node_modules/\ndist/\n.sidekick/\n');
        mkdirSync(join(target, 'test'), { recursive: true });
        writeFileSync(join(target, 'test', 'smoke.test.js'), smokeTest(recipe));
        if (!options.skipInstall) {
          progress('Installing dependencies (npm install)...');
          await install(target, options.preferOffline === true);
        }
        process.stdout.write(
          `Created ${target} (sample ${sample.name}, @sidekick/core ${framework}).\nNext:\n  cd ${dir}\n${options.skipInstall ? '  npm install\n' : ''}  npm run build && npm start\n`,
        );
      },
    );
}

/** `components/`: the embedded set `npm start` loads; the sample's own files in `components/<backend>/`. */
function layComponents(source: string, target: string, recipe: SampleRecipe): void {
  const dir = join(target, 'components');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'README.md'),
    '# components/\n\nThe default resources path: what `npm start` loads (Dapr component YAML; no file here means the embedded defaults only).\n' +
      "Its sub-folders hold the sample's components for real services, loaded only when `SIDEKICK_RESOURCES_PATH` names one (see ../README.md).\n",
  );
  for (const [file, content] of Object.entries(recipe.embedded)) {
    if (typeof content === 'string') writeFileSync(join(dir, file), content);
    else copyFileSync(join(source, content.from), join(dir, file));
  }
  for (const backend of recipe.backends) {
    for (const file of backend.files) {
      const to = join(dir, backend.folder, basename(file));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(source, file), to);
    }
  }
}

/** The sample's package.json with the project's name, the framework as a real dependency and the recipe's scripts. */
function writePackageJson(target: string, recipe: SampleRecipe, framework: string): void {
  const file = join(target, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; scripts?: Record<string, string>; dependencies?: Record<string, string> };
  pkg.name = basename(target)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-');
  pkg.dependencies = { ...pkg.dependencies, '@sidekick/core': framework };
  pkg.scripts = {
    build: pkg.scripts?.['build'] ?? 'tsc -p tsconfig.json',
    start: recipe.start,
    test: 'npm run build && node --test', // its default patterns take test/**: a directory argument is a glob from Node 21 on
    ...recipe.scripts,
  };
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}

/** `npm pack` of this Sidekick into the project: `file:sidekick-core-<version>.tgz`, installable without a registry. */
async function packFramework(target: string): Promise<string> {
  progress(`Packing @sidekick/core ${packageVersion()} into the project...`);
  const out = await new Promise<string>((ok, fail) =>
    execFile('npm', ['pack', '--json', '--pack-destination', target], { cwd: packageRoot(), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? fail(new CliError(`npm pack of @sidekick/core failed: ${stderr.split('\n')[0] ?? err.message}`)) : ok(stdout),
    ),
  );
  const [packed] = JSON.parse(out) as { filename: string }[];
  if (!packed) throw new CliError('npm pack of @sidekick/core printed no file');
  return `file:${basename(packed.filename)}`;
}

async function install(target: string, preferOffline: boolean): Promise<void> {
  const args = ['install', '--no-audit', '--no-fund', ...(preferOffline ? ['--prefer-offline'] : [])];
  const code = await new Promise<number>((ok, fail) => {
    const child = spawn('npm', args, { cwd: target, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (err) => fail(new CliError(`could not run npm: ${err.message}`)));
    child.once('exit', (c) => ok(c ?? 1));
  });
  if (code !== 0) throw new CliError(`npm install failed in ${target} (exit code ${code}): fix the problem above, then run npm install there`);
}
