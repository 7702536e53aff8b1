/**
 * What `sidekick new` does with each sample: which components make `npm start` run on the embedded
 * defaults (no service running), where the sample's own components (Redis, PostgreSQL, Kafka, Zipkin)
 * go and which scripts use them, what the generated smoke test checks over HTTP, and what the
 * embedded defaults cannot stand in for (written into the project's README).
 *
 * The project's `components/` folder is the default resources path, so it holds the embedded set;
 * the sample's components move to `components/<backend>/` (the loader does not recurse, so a
 * sub-folder is loaded only when `SIDEKICK_RESOURCES_PATH` names it).
 */

/** One HTTP request of the smoke test, to the app's own port (`app`) or its Dapr HTTP API (`dapr`). */
export interface HttpCheck {
  readonly to: 'app' | 'dapr';
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  readonly status: number;
  /** Text the response body must contain. */
  readonly contains?: string;
  /** Asked again (up to 30 s) until it passes: for what happens on a schedule. */
  readonly eventually?: boolean;
}

/** The sample's components for a real backend, moved to `components/<folder>/`. */
export interface Backend {
  readonly folder: string;
  /** Sample-relative files moved there. */
  readonly files: readonly string[];
  /** What must run, and how to start the app on it (README). */
  readonly needs: string;
}

export interface SampleRecipe {
  /** `npm start`: the app on the embedded defaults. */
  readonly start: string;
  /** `components/<file>`: YAML, or `{ from }` a sample-relative file copied as is. */
  readonly embedded: Readonly<Record<string, string | { readonly from: string }>>;
  readonly backends: readonly Backend[];
  /** The package.json scripts besides build/start/test (the sample's own are replaced). */
  readonly scripts: Readonly<Record<string, string>>;
  /** README: what `npm start` runs and on what. */
  readonly runs: string;
  /** README: what needs a real service (empty: nothing). */
  readonly limits: readonly string[];
  readonly checks: readonly HttpCheck[];
  /** Text the app prints while the smoke test runs. */
  readonly logs: readonly string[];
  /** Environment of the smoke test's app (shorter intervals). */
  readonly testEnv: Readonly<Record<string, string>>;
  /** Variables that select a real backend: the smoke test unsets them. */
  readonly selectors: readonly string[];
}

const header = (what: string): string =>
  `# Embedded default written by \`sidekick new\`: ${what}\n# (the sample's own component files are in the sub-folders of components/)\napiVersion: dapr.io/v1alpha1\nkind: Component\n`;

const inMemory = (name: string, type: string, what: string): string =>
  `${header(what)}metadata:\n  name: ${name}\nspec:\n  type: ${type}\n  version: v1\n  metadata: []\n`;

const RESOURCE_SELECTORS = ['SIDEKICK_RESOURCES_PATH', 'SIDEKICK_CONFIG'];

export const RECIPES: Readonly<Record<string, SampleRecipe>> = {
  '01-hello-world': {
    start: 'node dist/main.js',
    embedded: {},
    backends: [
      {
        folder: 'redis',
        files: ['components/redis.yaml', 'components/secrets.yaml'],
        needs: 'Redis on 127.0.0.1:6379: `REDIS_PASSWORD= npm run start:redis` (REDIS_PASSWORD is read from the environment; empty when Redis has none)',
      },
    ],
    scripts: { 'start:redis': 'SIDEKICK_RESOURCES_PATH=components/redis node dist/main.js', pythonapp: 'python3 pythonapp/app.py' },
    runs: 'nodeapp on http://127.0.0.1:3000 (Dapr HTTP API on 3500), its `statestore` the embedded SQLite file `.sidekick/state.db`',
    limits: [],
    checks: [
      { to: 'app', method: 'POST', path: '/neworder', body: { data: { orderId: 42 } }, status: 200 },
      { to: 'app', method: 'GET', path: '/order', status: 200, contains: '"orderId":42' },
      { to: 'dapr', method: 'GET', path: '/v1.0/state/statestore/order', status: 200, contains: '"orderId":42' },
    ],
    logs: ['Successfully persisted state for Order ID: 42'],
    testEnv: {},
    selectors: RESOURCE_SELECTORS,
  },
  '02-pubsub': {
    start: 'node dist/all-in-one.main.js',
    embedded: { 'pubsub.yaml': { from: 'components/memory/pubsub.yaml' } },
    backends: [
      {
        folder: 'redis',
        files: ['components/redis/pubsub.yaml'],
        needs: 'Redis on 127.0.0.1:6379: `npm run order-processor:redis` and, in a second terminal, `npm run checkout:redis`',
      },
      {
        folder: 'kafka',
        files: ['components/kafka/pubsub.yaml'],
        needs: 'Kafka on 127.0.0.1:9092: `npm run order-processor:kafka` and, in a second terminal, `npm run checkout:kafka`',
      },
    ],
    scripts: {
      'order-processor:redis': 'SIDEKICK_RESOURCES_PATH=components/redis node dist/order-processor.main.js',
      'checkout:redis': 'SIDEKICK_RESOURCES_PATH=components/redis node dist/checkout.main.js',
      'order-processor:kafka': 'SIDEKICK_RESOURCES_PATH=components/kafka node dist/order-processor.main.js',
      'checkout:kafka': 'SIDEKICK_RESOURCES_PATH=components/kafka node dist/checkout.main.js',
    },
    runs: 'checkout and order-processor as one app (`pubsub-all-in-one`, `src/all-in-one.main.ts`) on the in-memory pub/sub `orderpubsub` (`components/pubsub.yaml`): 10 orders published, one a second, and received, then it stays subscribed until Ctrl-C',
    limits: [
      "The in-memory pub/sub lives inside one process: checkout and order-processor as two processes (the quickstart's shape, with the dead-letter topic `orders-dead`) need Redis or Kafka, the `*:redis` / `*:kafka` scripts.",
    ],
    checks: [{ to: 'dapr', method: 'GET', path: '/v1.0/metadata', status: 200, contains: '"orderpubsub"' }],
    logs: ['Subscriber received: {"orderId":1}', 'Published all 3 orders'],
    testEnv: { ORDER_COUNT: '3', ORDER_INTERVAL_MS: '100' },
    selectors: RESOURCE_SELECTORS,
  },
  '03-bindings': {
    start: 'node dist/embedded.main.js',
    embedded: {},
    backends: [
      {
        folder: 'postgres-kafka',
        files: ['components/cron.yaml', 'components/postgres.yaml', 'components/secrets.yaml', 'components/kafka.yaml'],
        needs:
          'PostgreSQL and Kafka on 127.0.0.1:9092: `PG_CONNECTION_STRING=postgres://postgres@127.0.0.1:5432/postgres npm run start:services` (the full app, `src/main.ts`)',
      },
    ],
    scripts: { 'start:services': 'SIDEKICK_RESOURCES_PATH=components/postgres-kafka node dist/main.js' },
    runs: 'the embedded variant of batch (`src/embedded.main.ts`): the cron binding (`@every 2s`, in code) keeps each batch of three orders in the embedded SQLite state store under `batch-<n>` and `last-batch` (`curl 127.0.0.1:3502/v1.0/state/statestore/last-batch`)',
    limits: [
      'The SQL output binding `sqldb` (`bindings.postgresql`, the `batch_orders` table) needs PostgreSQL: there is no embedded SQL binding, so the embedded variant keeps the batches in the state store instead.',
      'The Kafka input binding `orders-in` needs Kafka: the embedded variant has none.',
    ],
    checks: [{ to: 'dapr', method: 'GET', path: '/v1.0/state/statestore/batch-1', status: 200, contains: '"customer":"John Smith"', eventually: true }],
    logs: ['Batch 1: kept orders 101, 102, 103'],
    testEnv: { CRON_SCHEDULE: '@every 1s' },
    selectors: RESOURCE_SELECTORS,
  },
  '04-observability': {
    start: 'node dist/checkout.main.js',
    embedded: {
      'pubsub.yaml': inMemory('orderpubsub', 'pubsub.in-memory', 'orderpubsub in memory (one process)'),
      'config.yaml':
        '# Embedded default written by `sidekick new`: every call traced, spans printed on stdout (no Zipkin), metrics on.\n' +
        '# components/redis-zipkin/config.yaml sends them to Zipkin instead.\n' +
        'apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: observability\nspec:\n  tracing:\n    samplingRate: "1"\n    stdout: true\n  metric:\n    enabled: true\n',
    },
    backends: [
      {
        folder: 'redis-zipkin',
        files: ['components/config.yaml', 'components/pubsub.yaml', 'components/statestore.yaml'],
        needs: 'Redis on 127.0.0.1:6379 and Zipkin on 127.0.0.1:9411: `npm run order-processor:redis` and, in a second terminal, `npm run checkout:redis`',
      },
    ],
    scripts: {
      'order-processor:redis': 'SIDEKICK_RESOURCES_PATH=components/redis-zipkin SIDEKICK_METRICS_PORT=9192 node dist/order-processor.main.js',
      'checkout:redis': 'SIDEKICK_RESOURCES_PATH=components/redis-zipkin SIDEKICK_METRICS_PORT=9191 node dist/checkout.main.js',
    },
    runs: 'checkout alone on http://127.0.0.1:5001 (`POST /orders {"orderId": 1}`, `GET /orders/1`): orders in the embedded SQLite `statestore`, published to the in-memory `orderpubsub`, every span printed on stdout, metrics on 127.0.0.1:9090',
    limits: [
      'order-processor runs in its own process, so it needs a pub/sub two processes share (Redis): embedded, checkout publishes and nobody receives.',
      'The one trace across both apps is seen in Zipkin: embedded, spans go to stdout.',
    ],
    checks: [
      { to: 'app', method: 'POST', path: '/orders', body: { orderId: 7 }, status: 201, contains: '"orderId":7' },
      { to: 'app', method: 'GET', path: '/orders/7', status: 200, contains: '"orderId":7' },
    ],
    logs: ['Published order 7'],
    testEnv: {},
    selectors: RESOURCE_SELECTORS,
  },
  '05-actors': {
    start: 'node dist/main.js',
    embedded: {},
    backends: [],
    scripts: { 'start:redis': 'REDIS_HOST=127.0.0.1:6379 node dist/main.js', 'call-both': 'node call-both.mjs' },
    runs: 'one instance of the bank (app id `bank`, Dapr HTTP API on 3500), the accounts in the embedded SQLite `statestore`, placement off',
    limits: [
      'Two instances sharing the accounts (placement) need Redis: `INSTANCE=one PORT=3000 SIDEKICK_HTTP_PORT=3500 npm run start:redis`, `INSTANCE=two PORT=3001 SIDEKICK_HTTP_PORT=3501 npm run start:redis`, then `npm run call-both`.',
    ],
    checks: [
      { to: 'dapr', method: 'POST', path: '/v1.0/actors/BankAccount/smoke-1/method/deposit', body: [100], status: 200, contains: '100' },
      { to: 'dapr', method: 'POST', path: '/v1.0/actors/BankAccount/smoke-1/method/statement', status: 200, contains: '"balance":100' },
    ],
    logs: ['ACTIVATE smoke-1'],
    testEnv: {},
    selectors: [...RESOURCE_SELECTORS, 'REDIS_HOST'],
  },
  '06-workflow': {
    start: 'node dist/main.js',
    embedded: {},
    backends: [],
    scripts: {},
    runs: 'orders on http://127.0.0.1:5006 (Dapr HTTP API on 3506), the workflow history in the embedded SQLite `statestore`',
    limits: [],
    checks: [
      { to: 'app', method: 'POST', path: '/orders', body: { id: 'smoke-1', item: 'book', qty: 1, amount: 1200 }, status: 201, contains: 'smoke-1' },
      { to: 'app', method: 'GET', path: '/orders/smoke-1', status: 200, contains: 'smoke-1', eventually: true },
    ],
    logs: [],
    testEnv: {},
    selectors: RESOURCE_SELECTORS,
  },
  '07-config-and-lock': {
    start: 'node dist/main.js',
    embedded: {
      'configstore.yaml': inMemory('configstore', 'configuration.in-memory', 'the configuration store in memory (no item set: the flag is off)'),
      'lockstore.yaml': inMemory('lockstore', 'lock.in-memory', 'the lock in memory (one process)'),
      'cron.yaml': { from: 'components/cron.yaml' },
    },
    backends: [
      {
        folder: 'redis',
        files: ['components/configstore.yaml', 'components/cron.yaml', 'components/lockstore.yaml', 'components/statestore.yaml'],
        needs: 'Redis on 127.0.0.1:6379: `npm run start:redis` (a second process: `PORT=5008 SIDEKICK_HTTP_PORT=3508 npm run start:redis`)',
      },
    ],
    scripts: { 'start:redis': 'SIDEKICK_RESOURCES_PATH=components/redis node dist/main.js' },
    runs: 'one process on http://127.0.0.1:5007 (`GET /flag`, `GET /report`, `POST /report`): the flag from the in-memory configuration store (not set: off), the report job every 2 s under the in-memory lock, its report in the embedded SQLite `statestore`',
    limits: [
      'Changing the feature flag live (`redis-cli SET report.detailed "on||2"`) needs Redis: the in-memory configuration store has no writer outside the process.',
      "The lock guarding the job across two processes needs Redis: the in-memory lock is one process's.",
    ],
    checks: [
      { to: 'app', method: 'GET', path: '/flag', status: 200, contains: '"enabled":false' },
      { to: 'app', method: 'GET', path: '/report', status: 200, contains: '"fencingToken"', eventually: true },
    ],
    logs: ['finished: fencingToken='],
    testEnv: { JOB_DURATION_MS: '100' },
    selectors: RESOURCE_SELECTORS,
  },
};
