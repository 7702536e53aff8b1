import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRunFile } from '../../src/cli/run/run-file';
import { tempDir } from '../support/app';

function runFile(yaml: string): string {
  const dir = tempDir('sidekick-runfile-unit-');
  mkdirSync(join(dir, 'checkout'));
  mkdirSync(join(dir, 'order-processor'));
  writeFileSync(join(dir, 'dapr.yaml'), yaml);
  return dir;
}

describe("Dapr's Multi-App Run file", () => {
  it('applies common to every app, merges env, resolves paths against the file, and names what it ignores', () => {
    const dir = runFile(`version: 1
common:
  resourcesPath: ./components
  env:
    DEBUG: true
    LEVEL: info
apps:
  - appID: order-processor
    appDirPath: ./order-processor/
    appPort: 6001
    command: ["python3", "app.py"]
    env:
      LEVEL: debug
    enableProfiling: true
  - appID: checkout
    appDirPath: ./checkout
    command: npm run start
    daprHTTPPort: 3501
    resourcesPath: ../elsewhere
`);
    const { file, apps } = readRunFile(dir);
    expect(file).toBe(join(dir, 'dapr.yaml'));
    expect(apps).toEqual([
      expect.objectContaining({
        appId: 'order-processor',
        appDir: join(dir, 'order-processor'),
        appPort: 6001,
        command: ['python3', 'app.py'],
        resourcesPath: join(dir, 'components'),
        env: { DEBUG: 'true', LEVEL: 'debug' },
        ignored: ['enableProfiling'],
      }),
      expect.objectContaining({
        appId: 'checkout',
        command: ['npm', 'run', 'start'],
        daprHttpPort: 3501,
        resourcesPath: join(dir, '../elsewhere'),
        env: { DEBUG: 'true', LEVEL: 'info' },
        ignored: [],
      }),
    ]);
  });

  it.each([
    ['version: 1\napps: []\n', 'apps: list at least one app'],
    ['version: 1\napps:\n  - appDirPath: ./checkout\n    command: ["x"]\n', 'apps[0]: appID is required'],
    ['version: 1\napps:\n  - appID: a\n    command: ["x"]\n', 'apps[0] (a): appDirPath is required'],
    ['version: 1\napps:\n  - appID: a\n    appDirPath: ./checkout\n', 'apps[0] (a): command is required, e.g. command: ["python3", "app.py"]'],
    [
      'version: 1\napps:\n  - appID: a\n    appDirPath: ./checkout\n    command: [x]\n  - appID: a\n    appDirPath: ./checkout\n    command: [x]\n',
      'appID "a" is used by two apps',
    ],
    ['version: 1\napps:\n  - appID: a\n    appDirPath: ./checkout\n    appPort: seventy\n    command: [x]\n', 'appPort'],
    ['version: [\n', 'not valid YAML'],
  ])('refuses %j naming the problem', (yaml, message) => {
    expect(() => readRunFile(runFile(yaml))).toThrow(message);
  });
});
