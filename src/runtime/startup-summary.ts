/**
 * The start-up summary: one log line naming what a Sidekick app runs. A pure function of plain data,
 * so the runtime gathers the data and logs `logger.info(summary.fields, summary.msg)`.
 */

export interface StartupSummaryInput {
  readonly appId: string;
  /** The app's own HTTP server, e.g. `http://127.0.0.1:3000` (omitted when unknown). */
  readonly appAddress?: string;
  /** The Dapr HTTP API, e.g. `http://127.0.0.1:3500` (undefined: `off`). */
  readonly apiAddress?: string;
  readonly components: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  /** Each subscription with the handlers or app routes its events go to. */
  readonly subscriptions: ReadonlyArray<{ readonly pubsub: string; readonly topic: string; readonly routes: readonly string[] }>;
  /** Each input binding with its handler (`Class.method`). */
  readonly bindings: ReadonlyArray<{ readonly name: string; readonly handler: string }>;
}

export interface StartupSummary {
  /** `nodeapp started: 2 components, 1 subscription, 0 bindings`. */
  readonly msg: string;
  /**
   * The detail, for pino: `app`, `daprHttpApi`, `components` (`{ name: type }`), `subscriptions`
   * (`pubsub/topic -> route, ...`) and `bindings` (`name -> handler`). Short values that read well
   * on the pretty line and stay structured in JSON. No `appId`: the logger's base carries it.
   */
  readonly fields: {
    readonly app?: string;
    readonly daprHttpApi: string;
    readonly components: Readonly<Record<string, string>>;
    readonly subscriptions: readonly string[];
    readonly bindings: readonly string[];
  };
}

export function startupSummary(input: StartupSummaryInput): StartupSummary {
  const components: Record<string, string> = {};
  for (const c of input.components) components[c.name] = c.type;
  const subscriptions = input.subscriptions.map((s) => `${s.pubsub}/${s.topic} -> ${s.routes.length > 0 ? s.routes.join(', ') : '(no route)'}`);
  const bindings = input.bindings.map((b) => `${b.name} -> ${b.handler}`);
  const msg = `${input.appId} started: ${count(Object.keys(components).length, 'component')}, ${count(subscriptions.length, 'subscription')}, ${count(bindings.length, 'binding')}`;
  return {
    msg,
    fields: {
      ...(input.appAddress === undefined ? {} : { app: input.appAddress }),
      daprHttpApi: input.apiAddress ?? 'off',
      components,
      subscriptions,
      bindings,
    },
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
