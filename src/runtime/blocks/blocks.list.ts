import type { BlockDefinition } from './building-block';
import { bindingsBlock } from './bindings/bindings.block';
import { invokeBlock } from './invoke/invoke.block';
import { pubsubBlock } from './pubsub/pubsub.block';
import { secretsBlock } from './secrets/secrets.block';
import { stateBlock } from './state/state.block';
import { workflowsBlock } from './workflows/workflows.block';

/**
 * The building blocks, in dependency order: a block may use the services of the blocks before it.
 * They start in this order and stop in reverse. Adding a block = one folder under blocks/ and one
 * entry here (README, "Adding a building block").
 */
export const BLOCKS: readonly BlockDefinition[] = [stateBlock, secretsBlock, invokeBlock, pubsubBlock, bindingsBlock, workflowsBlock];
