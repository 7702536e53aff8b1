import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { componentInit } from '../../src/spi/metadata-reader';
import { SystemClock } from '../../src/runtime/time/system.clock';
import { captureLogs } from '../../test/support/logger';
import { restartKafkaBroker } from '../../test/support/kafka-broker';
import { eventually } from '../../test/support/collector';
import { KafkaBinding, kafkaBindingFactory } from './kafka.binding';
import { KafkaPubSub, kafkaPubSubFactory } from './kafka.pubsub';

/*
 * kafkajs gives up on a consumer for good (CRASH with restart=false) on a non-retriable error; a
 * real one: the broker comes back from a restart with a tighter `group.max.session.timeout.ms`
 * than the component's sessionTimeout, so rejoining the group fails with INVALID_SESSION_TIMEOUT.
 * (A broker that is merely down does not do it: kafkajs 2.2.4 restarts on connection errors forever.)
 * The components must re-create their consumers until the broker accepts them again, and every
 * event (before, during and after the outage) must reach the handlers.
 *
 * This spec restarts a broker twice, so it runs its own (scripts/services.sh on another port),
 * never the shared one.
 */

const exec = promisify(execFile);
const PORT = Number(process.env.SIDEKICK_TEST_KAFKA_CRASH_PORT ?? '19292');
const BROKERS = `127.0.0.1:${PORT}`;
const SERVICES = join(__dirname, '..', '..', 'scripts', 'services.sh');
const run = randomUUID().slice(0, 8);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const STRICT = '\ngroup.max.session.timeout.ms=6000\n'; // below the components' sessionTimeout (10 s)

function init(name: string, type: string, appId: string, metadata: Record<string, string>, logger = captureLogs()) {
  return componentInit({ name, type, appId, metadata: { brokers: BROKERS, ...metadata }, clock: new SystemClock(), logger, source: '(test)' });
}

describe('kafka: a consumer kafkajs gave up on is re-created', () => {
  let startedBroker = false;
  /** The broker runs with STRICT: put it back even when the test failed half-way. */
  let strict = false;
  let publisher: KafkaPubSub;
  const closeLater: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    const { stdout } = await exec('bash', [SERVICES, 'up', 'kafka'], { env: { ...process.env, SIDEKICK_KAFKA_PORT: String(PORT) }, timeout: 170_000 });
    startedBroker = stdout.includes('started on');
    publisher = kafkaPubSubFactory.create();
    await publisher.init(init('kafka', 'pubsub.kafka', 'publisher', {}));
    closeLater.push(publisher);
  }, 180_000);

  afterAll(async () => {
    for (const c of closeLater.reverse()) await c.close().catch(() => undefined);
    if (strict) await restartKafkaBroker(async () => undefined, { port: PORT, properties: (text) => text.split(STRICT).join('') });
    if (startedBroker) await exec('bash', [SERVICES, 'down', `kafka:${PORT}`], { timeout: 90_000 });
  }, 120_000);

  /** Publishes until the broker accepts (it may be restarting). */
  async function publish(topic: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      for (let tries = 0; ; tries++) {
        try {
          await publisher.publish({ topic, data: Buffer.from(id), metadata: { partitionKey: id } });
          break;
        } catch (err) {
          if (tries > 300) throw err;
          await sleep(200);
        }
      }
    }
  }

  it('pub/sub subscription and input binding: kafkajs gives up on both, they are re-created with backoff, and no event is lost', async () => {
    const pubsubTopic = `sidekick-crash-ps-${run}`;
    const bindingTopic = `sidekick-crash-bind-${run}`;
    const doomedTopic = `sidekick-crash-doomed-${run}`;
    const session = { sessionTimeout: '10s', heartbeatInterval: '1s', initialOffset: 'oldest' };

    const psLogs = captureLogs();
    const app = kafkaPubSubFactory.create();
    await app.init(init('kafka', 'pubsub.kafka', `crash-ps-${run}`, session, psLogs));
    closeLater.push(app);
    const viaPubSub = new Set<string>();
    await app.subscribe({ topic: pubsubTopic, consumerGroup: `crash-ps-${run}` }, async (m) => void viaPubSub.add(m.data.toString()));

    const bindLogs = captureLogs();
    const binding: KafkaBinding = kafkaBindingFactory.create();
    await binding.init(
      init('kafka-in', 'bindings.kafka', `crash-bind-${run}`, { ...session, topics: bindingTopic, consumerGroup: `crash-bind-${run}` }, bindLogs),
    );
    closeLater.push(binding);
    const viaBinding = new Set<string>();
    await binding.read(async (event) => void viaBinding.add(event.data.toString()));

    // A third component, closed while its consumer is down: it must stop trying.
    const doomedLogs = captureLogs();
    const doomed = kafkaPubSubFactory.create();
    await doomed.init(init('kafka', 'pubsub.kafka', `crash-doomed-${run}`, session, doomedLogs));
    closeLater.push(doomed);
    await doomed.subscribe({ topic: doomedTopic, consumerGroup: `crash-doomed-${run}` }, async () => undefined);

    const ids = (phase: string): string[] => Array.from({ length: 10 }, (_, i) => `${phase}-${i}`);
    const before = ids('before');
    await publish(pubsubTopic, before);
    await publish(bindingTopic, before);
    await eventually(() => before.every((id) => viaPubSub.has(id) && viaBinding.has(id)), 60_000, 'the events published before the outage');
    await app.ping();

    // The broker comes back refusing the components' session timeout: kafkajs gives up on every consumer.
    strict = true;
    await restartKafkaBroker(() => sleep(500), { port: PORT, properties: (text) => text + STRICT });
    const gaveUp = (logs: ReturnType<typeof captureLogs>): boolean => logs.find({ level: 'error', text: 'kafkajs gave up on the consumer' }).length > 0;
    await eventually(() => gaveUp(psLogs) && gaveUp(bindLogs) && gaveUp(doomedLogs), 90_000, 'kafkajs to give up on the consumers');
    expect(psLogs.find({ level: 'error', text: 'The session timeout is not within the range allowed by the broker' }).length).toBeGreaterThan(0);
    expect(psLogs.find({ level: 'error', text: 're-creating it, attempt 1 in' })).toHaveLength(1);
    expect(bindLogs.find({ level: 'error', text: 're-creating it, attempt 1 in' })).toHaveLength(1);
    // Where the component reports health: ping() names the group, the reason and the next attempt.
    await expect(app.ping()).rejects.toThrow(/pub\/sub consumer down, not receiving \(group crash-ps-\w+: .*restart attempt \d+ in \d+ ms\)/);
    await expect(binding.ping()).rejects.toThrow(/input binding consumer down, not receiving \(group crash-bind-\w+: /);

    await doomed.close();
    const doomedAttemptsAtClose = doomedLogs.find({ text: 're-creating it, attempt' }).length;

    // Accepted by the broker while no consumer can join: delivered only once they are re-created.
    const during = ids('during');
    await publish(pubsubTopic, during);
    await publish(bindingTopic, during);
    await sleep(3000);
    expect(during.filter((id) => viaPubSub.has(id) || viaBinding.has(id))).toEqual([]);
    expect(psLogs.find({ level: 'error', text: 're-creating it, attempt 2 in' }).length).toBeGreaterThan(0); // the attempts go on, with backoff

    await restartKafkaBroker(() => sleep(500), { port: PORT, properties: (text) => text.split(STRICT).join('') });
    strict = false;
    const back = Date.now();
    const after = ids('after');
    await publish(pubsubTopic, after);
    await publish(bindingTopic, after);

    const all = [...before, ...during, ...after];
    const missing = (): string[] => all.filter((id) => !viaPubSub.has(id) || !viaBinding.has(id));
    await eventually(() => missing().length === 0, 120_000, 'every event after recovery').catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}: missing ${missing().join(', ')}`);
    });
    const attempts = (logs: ReturnType<typeof captureLogs>): number => logs.find({ level: 'error', text: 're-creating it, attempt' }).length;
    console.info(
      `kafkajs gave up: pub/sub re-created after ${attempts(psLogs)} attempts, binding after ${attempts(bindLogs)}; all ${all.length} events delivered to both ${Date.now() - back} ms after the broker was back`,
    );
    expect(psLogs.find({ level: 'warn', text: 'consumer re-created (attempt' })).toHaveLength(1);
    expect(bindLogs.find({ level: 'warn', text: 'consumer re-created (attempt' })).toHaveLength(1);
    await app.ping();
    await binding.ping();
    // The closed component made no attempt after close().
    expect(doomedLogs.find({ text: 're-creating it, attempt' })).toHaveLength(doomedAttemptsAtClose);
    expect(doomedLogs.find({ text: 'consumer re-created' })).toHaveLength(0);
  }, 400_000);
});
