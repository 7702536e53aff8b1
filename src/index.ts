import 'reflect-metadata';

// Module and client
export { type SidekickFeatureOptions, SidekickModule, type SidekickModuleAsyncOptions, type SidekickOptionsFactory } from './runtime/sidekick.module';
export type { HttpApiOptions, MetricsOptions, NameResolutionOptions, SidekickModuleOptions } from './runtime/sidekick.options';
export { SIDEKICK_CLOCK } from './runtime/sidekick.options';
export { type BulkPublishItem, InvokeStatusError, type PublishOptions, SecretsClient, SidekickClient } from './runtime/sidekick.client';
export { SidekickRuntime } from './runtime/sidekick.runtime';

// Logging: one format for Nest's lines and Sidekick's
export { createSidekickLogger, SidekickNestLogger, type SidekickNestLoggerOptions } from './runtime/nest-logger';
export { formatPrettyLine } from './runtime/logger';
export type { LogFormat } from './runtime/sidekick.options';

// Actors
export { Actor, actor, type ActorOptions, type ActorReentrancyOptions } from './decorators';
export { AbstractActor, type ActorReminderInfo, type ActorScheduleOptions } from './runtime/blocks/actors/abstract-actor';
export { type ActorClass, type ActorProxy, ActorsClient } from './runtime/blocks/actors/actors.client';
export { ActorStateManager, type TryGetResult } from './runtime/blocks/actors/state-manager';
export type { ActorRuntimeOptions } from './runtime/sidekick.options';

// Decorators
export {
  Binding,
  binding,
  type BulkSubscribeOptions,
  getStateStoreToken,
  OnConfigurationChange,
  onConfigurationChange,
  type OnConfigurationChangeOptions,
  StateStore,
  Subscribe,
  subscribe,
  type SubscribeOptions,
} from './decorators';

// Configuration
export { ConfigurationClient, type ConfigurationSubscribeOptions, ConfigurationSubscription } from './runtime/blocks/configuration/configuration.client';
export type { ConfigurationChange } from './runtime/blocks/configuration/configuration.service';

// Pub/sub and bindings
export type { BulkEventStatus, BulkResult, TopicEvent } from './runtime/blocks/pubsub/pubsub.types';
export type { RetryPolicyOptions } from './runtime/resiliency/retry.policy';
export type { CloudEvent } from './runtime/blocks/pubsub/cloudevent';
export type { BulkPublishResult } from './runtime/blocks/pubsub/pubsub.service';
export type { BindingInput } from './runtime/blocks/bindings/bindings.service';

// Secrets
export { getSecretToken, Secret, type SecretRef } from './decorators';
export type { SecretValues } from './runtime/blocks/secrets/secrets.service';
// Distributed lock
export { LockClient, type TryLockOptions, type UnlockOptions } from './runtime/blocks/lock/lock.client';
export type { LockGrant, WithLockOptions } from './runtime/blocks/lock/lock.service';
export { WithLock, withLock, type WithLockDecoratorOptions } from './decorators';
// Workflows
export { Activity, activity, Workflow, workflow } from './decorators';
export { WorkflowClient, type ScheduleOptions } from './runtime/blocks/workflows/workflow.client';
export type { CallActivityOptions, WaitForEventOptions, WhenAnyResult, WorkflowContext } from './runtime/blocks/workflows/workflow.runner';
export { Task } from './runtime/blocks/workflows/workflow.task';
export type { WorkflowPage, WorkflowQuery } from './runtime/blocks/workflows/workflow.query';
export type { ActivityContext, RetryPolicy as WorkflowRetryPolicy, WorkflowState, WorkflowStatus } from './runtime/blocks/workflows/workflow.types';
export type { WorkflowFailureDetails } from './errors/workflow.errors';

// State
export { StateClient, type DeleteOptions, type SaveOptions, type StateItem, type StateTransactionOp } from './runtime/blocks/state/state.client';
export type { InvokeOptions, InvokeResponse, HttpVerb } from './runtime/blocks/invoke/invoke.types';
export { LocalRegistry, type RegisteredApp } from './runtime/blocks/invoke/local-registry';

// Resiliency policies (apply them at the interception seam with policyInterceptor)
export { CircuitBreakerPolicy, type CircuitBreakerOptions } from './runtime/resiliency/circuit-breaker.policy';
export { type CallPolicies, policyInterceptor } from './runtime/resiliency/policy.interceptor';
export { isRetryable, RetryPolicy } from './runtime/resiliency/retry.policy';
export { TimeoutPolicy } from './runtime/resiliency/timeout.policy';

// Metrics and Resiliency YAML (`runtime.service(MetricsService)`: address, scrape)
export { MetricsService, type ResiliencyLabels } from './runtime/blocks/metrics/metrics.service';
export { ResiliencyService } from './runtime/blocks/resiliency/resiliency.service';
export type { CircuitBreakerSpec, ResiliencyResource, RetrySpec, TargetPolicySpec } from './config/resiliency.loader';

// Time
export { SystemClock } from './runtime/time/system.clock';
export { VirtualClock } from './runtime/time/virtual.clock';

// Components: the SPI for writing your own, and YAML shapes
export type { InlineComponent } from './config/component.loader';
export type { SidekickConfiguration, TracingSettings, MetricSettings, SecretScope, AccessControlSettings } from './config/configuration.loader';
export type { ConfigurationSpecInput } from './config/configuration.schema';
export * from './spi';
export * from './errors';
