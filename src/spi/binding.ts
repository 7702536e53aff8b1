import type { Component } from './component';

/** One event from an input binding (a cron tick, a Kafka record, ...). */
export interface BindingEvent {
  readonly data: Buffer;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Handles one input event. Resolving acknowledges it (the resolved bytes, if any, are the app's
 * reply); rejecting asks the binding to deliver it again where the binding supports that.
 */
export type BindingHandler = (event: BindingEvent) => Promise<Buffer | undefined>;

export interface InputBindingHandle {
  /** Stop reading, wait for in-flight handlers, release resources. */
  close(): Promise<void>;
}

export interface InputBinding extends Component {
  /** Starts delivering events to `handler` until the handle is closed. */
  read(handler: BindingHandler): Promise<InputBindingHandle>;
}

export interface BindingRequest {
  readonly operation: string;
  readonly data: Buffer;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface BindingResponse {
  readonly data?: Buffer;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface OutputBinding extends Component {
  /** The operations `invoke` accepts (`create`, `get`, `exec`, ...). */
  readonly operations: readonly string[];
  invoke(request: BindingRequest): Promise<BindingResponse>;
}

/**
 * Optional on a binding component that implements both sides but, once initialised, serves only
 * some of them (Dapr's Kafka binding is input with `topics`, output with `publishTopic`).
 */
export interface BindingDirections {
  readonly directions?: () => readonly ('input' | 'output')[];
}

export function isInputBinding(component: Component): component is InputBinding {
  return typeof (component as Partial<InputBinding>).read === 'function' && serves(component, 'input');
}

export function isOutputBinding(component: Component): component is OutputBinding {
  return (
    typeof (component as Partial<OutputBinding>).invoke === 'function' &&
    Array.isArray((component as Partial<OutputBinding>).operations) &&
    serves(component, 'output')
  );
}

function serves(component: Component, direction: 'input' | 'output'): boolean {
  const directions = (component as BindingDirections).directions;
  return typeof directions !== 'function' || directions.call(component).includes(direction);
}
