import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, progress } from '../shared/cli-error';
import { packageRoot, packageVersion } from '../shared/package-root';
import { SMOKE_TEST } from './new.template';

/** `npm start` of samples that have none (02-pubsub runs both apps in one process). */
const START: Readonly<Record<string, string>> = { '02-pubsub': 'node dist/all-in-one.main.js' };

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
    .option('--framework <spec>', 'the @sidekick/core dependency to write (default: this Sidekick, packed into the project)')
    .addHelpText('after', '\nExamples:\n  $ sidekick new --list\n  $ sidekick new my-app --sample 02-pubsub\n  $ sidekick new my-app --skip-install')
    .action(async (dir: string | undefined, options: { sample: string; list?: boolean; skipInstall?: boolean; framework?: string }) => {
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
      progress(`Creating ${target} from sample ${sample.name}`);
      const source = join(packageRoot(), 'samples', sample.name);
      cpSync(source, target, { recursive: true, filter: (src) => !SKIP.has(basename(src)) });
      const framework = options.framework ?? (await packFramework(target));
      const pkgFile = join(target, 'package.json');
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name: string; scripts?: Record<string, string>; dependencies?: Record<string, string> };
      pkg.name = basename(target)
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-');
      pkg.dependencies = { ...pkg.dependencies, '@sidekick/core': framework };
      const scripts = { ...pkg.scripts };
      scripts['start'] ??= START[sample.name] ?? 'node dist/main.js';
      scripts['test'] = 'npm run build && node --test test/';
      pkg.scripts = scripts;
      writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
      mkdirSync(join(target, 'test'), { recursive: true });
      writeFileSync(join(target, 'test', 'smoke.test.js'), SMOKE_TEST);
      if (!options.skipInstall) {
        progress('Installing dependencies (npm install)...');
        await install(target);
      }
      process.stdout.write(
        `Created ${target} (sample ${sample.name}, @sidekick/core ${framework}).\nNext:\n  cd ${dir}\n${options.skipInstall ? '  npm install\n' : ''}  npm run build && npm start\n`,
      );
    });
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

async function install(target: string): Promise<void> {
  const code = await new Promise<number>((ok, fail) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund'], { cwd: target, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (err) => fail(new CliError(`could not run npm: ${err.message}`)));
    child.once('exit', (c) => ok(c ?? 1));
  });
  if (code !== 0) throw new CliError(`npm install failed in ${target} (exit code ${code}): fix the problem above, then run npm install there`);
}
