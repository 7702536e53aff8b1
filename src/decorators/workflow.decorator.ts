import { SIDEKICK_ACTIVITY, SIDEKICK_WORKFLOW } from './constants';

/**
 * Marks a provider method as a durable workflow (an orchestrator) named `name`. The method is called
 * as `(ctx: WorkflowContext, input)` and is replayed from its history: it must be deterministic (see
 * README, "Workflows"). Plain-function form: {@link workflow}.
 */
export function Workflow(name: string): MethodDecorator {
  return (target, propertyKey, descriptor) => mark(SIDEKICK_WORKFLOW, '@Workflow', descriptor.value, name, `${target.constructor.name}.${String(propertyKey)}`);
}

/**
 * Marks a provider method as a workflow activity named `name`, called as `(ctx: ActivityContext,
 * input)` with the provider's injected dependencies. Activities run at least once. Plain-function
 * form: {@link activity}.
 */
export function Activity(name: string): MethodDecorator {
  return (target, propertyKey, descriptor) => mark(SIDEKICK_ACTIVITY, '@Activity', descriptor.value, name, `${target.constructor.name}.${String(propertyKey)}`);
}

/** The plain-function form of `@Workflow`. */
export function workflow(type: { prototype: object; name: string }, methodName: string, name: string): void {
  mark(SIDEKICK_WORKFLOW, '@Workflow', (type.prototype as Record<string, unknown>)[methodName], name, `${type.name}.${methodName}`);
}

/** The plain-function form of `@Activity`. */
export function activity(type: { prototype: object; name: string }, methodName: string, name: string): void {
  mark(SIDEKICK_ACTIVITY, '@Activity', (type.prototype as Record<string, unknown>)[methodName], name, `${type.name}.${methodName}`);
}

/** The activity name a method reference carries (`ctx.callActivity(Activities.prototype.charge, ...)`). */
export function activityNameOf(ref: unknown): string | undefined {
  if (typeof ref !== 'function') return undefined;
  const name: unknown = Reflect.getMetadata(SIDEKICK_ACTIVITY, ref);
  return typeof name === 'string' ? name : undefined;
}

function mark(key: string, decorator: string, method: unknown, name: string, where: string): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${decorator}(name) on ${where} needs a non-empty name`);
  if (typeof method !== 'function') throw new TypeError(`${decorator} goes on a method; ${where} is not one`);
  Reflect.defineMetadata(key, name, method);
}
