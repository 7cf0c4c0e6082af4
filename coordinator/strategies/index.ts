/** Aggregation strategies by name: the registry a federation's config picks from. */
import { fedAvg } from './fedavg.js';
import type { Strategy } from './types.js';

export { fedAvg, weightedMean } from './fedavg.js';
export type { Accumulator, Strategy } from './types.js';

/** Every known strategy, keyed by the name a federation's config uses. */
export const strategies: Readonly<Record<string, Strategy>> = Object.freeze({ fedavg: fedAvg });

/**
 * The strategy called `name`.
 * @example getStrategy('fedavg').begin(shapes, previous)
 */
export function getStrategy(name: string): Strategy {
  const strategy = Object.hasOwn(strategies, name) ? strategies[name] : undefined;
  if (!strategy) {
    throw new Error(`unknown strategy "${name}"; known strategies: ${Object.keys(strategies).join(', ')}`);
  }
  return strategy;
}
