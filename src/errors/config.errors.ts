import { SidekickError } from './sidekick.error';

/** A component, resiliency or configuration file (or inline option) is invalid. Terminal. */
export class ConfigError extends SidekickError {
  constructor(message: string, context: { file?: string; component?: string; field?: string } = {}) {
    const where = [context.file, context.component ? `component "${context.component}"` : undefined, context.field]
      .filter((part): part is string => part !== undefined && part !== '')
      .join(': ');
    super('ERR_CONFIG', where ? `${where}: ${message}` : message, context);
  }
}

/** Two things registered under one name. */
export class DuplicateNameError extends SidekickError {
  constructor(kind: string, name: string, first: string, second: string) {
    super('ERR_DUPLICATE_NAME', `duplicate ${kind} "${name}": defined in ${first} and again in ${second}; names must be unique`);
  }
}

/** A component failed to initialise (unreachable backend, bad credentials...). */
export class ComponentInitError extends SidekickError {
  constructor(component: string, type: string, source: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'ERR_COMPONENT_INIT',
      `${source}: component "${component}" (${type}) failed to initialise: ${reason}. ` +
        'Check the backend is running and its address in spec.metadata, or set spec.ignoreErrors: true to start without it.',
      { component, file: source, cause },
    );
  }
}
