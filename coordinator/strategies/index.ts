/** Aggregation strategies by name: the registry a federation's config picks from, and `createStrategy(name, params)`. */
import { fedAdagrad } from './fedadagrad.js';
import { fedAdam } from './fedadam.js';
import { fedAvg } from './fedavg.js';
import { fedAvgM } from './fedavgm.js';
import { fedProx } from './fedprox.js';
import { fedYogi } from './fedyogi.js';
import { krum, multiKrum } from './krum.js';
import { median } from './median.js';
import { defineStrategy, type StrategyDefinition, type StrategyParams } from './params.js';
import { trimmedMean } from './trimmed-mean.js';
import type { Strategy } from './types.js';
import { z } from 'zod';

export { fedAvg, weightedMean } from './fedavg.js';
export { serverMomentum } from './fedavgm.js';
export { serverAdam } from './fedadam.js';
export { serverYogi } from './fedyogi.js';
export { serverAdagrad } from './fedadagrad.js';
export { adaptiveState, adaptiveStep, pseudoGradient, type AdaptiveState } from './fedopt.js';
export {
  addSquaredDistances,
  krumScores,
  lowestScores,
  median as medianOf,
  trimCount,
  trimmedMean as trimmedMeanOf,
} from './robust-stats.js';
export { parseStrategyParam, parseStrategyParams, type StrategyDefinition, type StrategyParams } from './params.js';
export type { BufferedAccumulator } from './buffered.js';
export type { Accumulator, Strategy, StrategyTrainConfig } from './types.js';

/** Every known strategy, keyed by the name `--strategy` and a federation's `rules.strategy` use. */
export const strategyDefinitions: Readonly<Record<string, StrategyDefinition>> = Object.freeze({
  fedavg: defineStrategy('fedavg', 'sample-weighted mean (McMahan et al. 2017)', z.object({}), () => fedAvg),
  fedavgm: fedAvgM,
  fedprox: fedProx,
  fedadam: fedAdam,
  fedyogi: fedYogi,
  fedadagrad: fedAdagrad,
  median,
  'trimmed-mean': trimmedMean,
  krum,
  'multi-krum': multiKrum,
});

/** The known strategy names, in registry order. */
export const strategyNames: readonly string[] = Object.freeze(Object.keys(strategyDefinitions));

/**
 * A new strategy object for one federation: its server-optimizer state (if any) lives in it across
 * rounds. Throws an Error naming the known strategies, or the valid parameters, when `name` or `params` are wrong.
 * @example const strategy = createStrategy('fedadam', { lr: 0.01 }); strategy.begin(shapes, previous)
 */
export function createStrategy(name: string, params: StrategyParams = {}): Strategy {
  const definition = Object.hasOwn(strategyDefinitions, name) ? strategyDefinitions[name] : undefined;
  if (!definition) throw new Error(`unknown strategy "${name}"; known strategies: ${strategyNames.join(', ')}`);
  return definition.create(params);
}

/**
 * The strategy called `name` with its default parameters: `createStrategy(name, {})`.
 * @example getStrategy('fedavg').begin(shapes, previous)
 */
export function getStrategy(name: string): Strategy {
  return createStrategy(name, {});
}
