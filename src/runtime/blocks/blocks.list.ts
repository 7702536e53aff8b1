import { actorsBlock } from './actors/actors.block';
import type { BlockDefinition } from './building-block';
import { bindingsBlock } from './bindings/bindings.block';
import { configurationBlock } from './configuration/configuration.block';
import { invokeBlock } from './invoke/invoke.block';
import { lockBlock } from './lock/lock.block';
import { pubsubBlock } from './pubsub/pubsub.block';
import { secretsBlock } from './secrets/secrets.block';
import { metricsBlock } from './metrics/metrics.block';
import { resiliencyBlock } from './resiliency/resiliency.block';
import { stateBlock } from './state/state.block';
import { tracingBlock } from './tracing/tracing.block';
import { workflowsBlock } from './workflows/workflows.block';

/**
 * The building blocks, in dependency order: a block may use the services of the blocks before it.
 * They start in this order and stop in reverse. Adding a block = one folder under blocks/ and one
 * entry here (README, "Adding a building block").
 */
export const BLOCKS: readonly BlockDefinition[] = [
  // Cross-cutting blocks first: earlier blocks' interceptors are outermost, so a call's span and
  // metrics include every retry the resiliency policies make inside them.
  tracingBlock,
  metricsBlock,
  resiliencyBlock,
  stateBlock,
  secretsBlock,
  invokeBlock,
  pubsubBlock,
  bindingsBlock,
  configurationBlock,
  lockBlock,
  actorsBlock,
  workflowsBlock,
];
