import { WorkflowApiError } from '../../../errors/workflow.errors';
import type { WorkflowFn } from './workflow.context';
import { failureOf, type HistoryEvent, type InstanceRecord } from './workflow.types';

const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** `value` as it reads back from JSON (undefined stays undefined); `error` when it cannot be written as JSON. */
export function jsonCopy(value: unknown, error: (reason: string) => Error = (r) => new TypeError(r)): unknown {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw error((err as Error).message);
  }
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

/** `jsonCopy(value)`, or `fallback` when it is not JSON (the instance has then failed, saying why). */
export function jsonOr(value: unknown, fallback: unknown): unknown {
  const text = ((): string | undefined => {
    try {
      return JSON.stringify(value);
    } catch {
      return undefined; // reported: the step ends the instance with "not JSON"
    }
  })();
  return text === undefined ? fallback : (JSON.parse(text) as unknown);
}

/** What a parent's history records when its child ended. */
export function childResult(child: InstanceRecord, taskId: number, at: number): HistoryEvent {
  if (child.status === 'COMPLETED') return { type: 'SubOrchestrationCompleted', at, taskId, result: child.output };
  const failure = child.failure ?? { errorType: 'WorkflowTerminated', message: `child workflow '${child.instanceId}' was ${child.status.toLowerCase()}` };
  return { type: 'SubOrchestrationFailed', at, taskId, failure };
}

export class ActivityNotRegisteredError extends Error {
  constructor(name: string, known: readonly string[]) {
    super(`activity "${name}" is not registered; registered activities: ${known.join(', ') || 'none'}`);
    this.name = 'ActivityNotRegistered';
  }
}

export function missingWorkflow(name: string): WorkflowFn {
  return () => {
    throw new Error(`workflow "${name}" is not registered in this app (any more)`);
  };
}

/** daprd's checks of a given instance id. */
export function checkInstanceId(id: string): void {
  if (id.length > 64) throw new WorkflowApiError('ERR_INSTANCE_ID_TOO_LONG', `workflow instance ID exceeds the max length of 64 characters`);
  if (!ID_PATTERN.test(id)) {
    throw new WorkflowApiError('ERR_INSTANCE_ID_INVALID', `workflow instance ID '${id}' is invalid: only alphanumeric and underscore characters are allowed`);
  }
}

/** daprd's answer to starting a workflow that is not registered. */
export function notRegistered(name: string, known: readonly string[]): WorkflowApiError {
  return new WorkflowApiError(
    'ERR_START_WORKFLOW',
    `error starting workflow '${name}': workflow "${name}" is not registered; registered workflows: ${known.join(', ') || 'none'}`,
  );
}

/** The end of a step whose `values` cannot be written as JSON (the instance fails, saying why), or undefined. */
export function notJsonEnd(values: unknown, at: number): Extract<HistoryEvent, { type: 'ExecutionCompleted' }> | undefined {
  try {
    JSON.stringify(values);
    return undefined;
  } catch (err) {
    const failure = failureOf(new TypeError(`the workflow produced a value that is not JSON: ${(err as Error).message}`));
    return { type: 'ExecutionCompleted', at, status: 'FAILED', failure };
  }
}
