import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect, startApp, tempDir } from '../support/app';

const CONFIG = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: tracing
spec:
  tracing:
    samplingRate: "0.25"
`;

describe('an app with a Configuration', () => {
  it('loads the kind: Configuration found in its resources path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    const app = await startApp({ resourcesPath: dir });
    try {
      expect(inspect(app).configuration()).toMatchObject({ name: 'tracing', source: expect.stringContaining('config.yaml'), tracing: { samplingRate: 0.25 } });
    } finally {
      await app.close();
    }
  });

  it('takes the config option over the resources path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    const app = await startApp({ resourcesPath: dir, config: { tracing: { samplingRate: '1' } } });
    try {
      expect(inspect(app).configuration().tracing?.samplingRate).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('fails start-up naming the file when the Configuration is invalid', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), CONFIG.replace('"0.25"', '"lots"'));
    await expect(startApp({ resourcesPath: dir })).rejects.toThrow(/config\.yaml: Configuration: .*samplingRate must be a number from 0 to 1/);
  });
});
