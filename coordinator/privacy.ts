/** Differential privacy at the coordinator: the study's budget from the noise schedule, noise on the aggregate, epsilon spent. */
import { CohortError, type DpTerms, type NamedTensor } from '../protocol/index.js';
import { dp } from '../crypto/index.js';
import type { RoundRules } from './config.js';

/** Strategies whose result is a (post-processed) mean of clipped updates, so the Gaussian mechanism's analysis holds. */
const MEAN_BASED = new Set(['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad']);

/**
 * The sampling rate the accountant uses. The coordinator selects each round's participants (seeded, at least
 * minParticipants, from those online), so it knows who took part and the selection is not the secret Poisson sampling
 * that amplification by subsampling needs: every round is accounted as the unsampled Gaussian mechanism, q = 1, whatever
 * rules.fraction says. The manifest states it, and every site's ledger uses it (docs/privacy-dp.md).
 */
export const DP_SAMPLING_RATE = 1;

/**
 * The study's DP terms: the mechanism (noise multiplier z, clip norm C, delta, sampling and its rate q) and the epsilon
 * that `rounds` steps of it spend (RDP accountant, Mironov et al. 2019), signed into the manifest.
 * @example plannedBudget({ ...rules, dp: { noiseMultiplier: 1.1, clipNorm: 1, delta: 1e-5 } }) // { epsilon: 12.6, delta: 1e-5, noiseMultiplier: 1.1, ... }
 */
export function plannedBudget(rules: RoundRules): DpTerms | undefined {
  if (!rules.dp) return undefined;
  if (!MEAN_BASED.has(rules.strategy)) {
    throw new CohortError(
      'BAD_REQUEST',
      `differential privacy needs a mean-based strategy (${[...MEAN_BASED].join(', ')}); ${rules.strategy} is not one`,
    );
  }
  const { noiseMultiplier, clipNorm, delta } = rules.dp;
  return {
    epsilon: spentAfter(rules, rules.rounds),
    delta,
    noiseMultiplier,
    clipNorm,
    sampling: 'coordinator',
    samplingRate: DP_SAMPLING_RATE,
  };
}

/**
 * Throws BAD_REQUEST for privacy settings that cannot work together: secure aggregation reveals only the sum, so the
 * strategy must be mean-based; adaptive clipping tunes the DP clip norm, so it needs DP, and it reads each site's
 * clipped/unclipped bit in the clear, which secure aggregation would hide.
 * @example checkPrivacyRules({ ...rules, strategy: 'krum', secagg: { graph: 'complete', clipNorm: 100, stepTimeoutMs: 30000 } }) // throws
 */
export function checkPrivacyRules(rules: RoundRules): void {
  if (rules.secagg && !MEAN_BASED.has(rules.strategy)) {
    throw new CohortError(
      'BAD_REQUEST',
      `secure aggregation reveals only the sum of the updates, which ${rules.strategy} cannot use: choose one of ${[...MEAN_BASED].join(', ')}`,
    );
  }
  if (rules.adaptiveClip && !rules.dp) throw new CohortError('BAD_REQUEST', 'adaptive clipping tunes the DP clip norm: it needs rules.dp');
  if (rules.adaptiveClip && rules.secagg)
    throw new CohortError(
      'BAD_REQUEST',
      'adaptive clipping with secure aggregation is not supported: the clip bits would have to be summed securely too',
    );
}

/**
 * Epsilon spent after `steps` aggregations (each candidate released to the sites counts, published or withheld), at
 * q = DP_SAMPLING_RATE; rounded up, so the reported figure is never below the accountant's.
 */
export function spentAfter(rules: RoundRules, steps: number): number {
  if (!rules.dp || steps === 0) return 0;
  const { epsilon } = dp.epsilonFor({ q: DP_SAMPLING_RATE, noiseMultiplier: rules.dp.noiseMultiplier, steps, delta: rules.dp.delta });
  return Math.ceil(epsilon * 1e6) / 1e6;
}

/** L2 distance between an update and the model it was trained from, over every tensor. */
export function updateNorm(update: readonly NamedTensor[], base: readonly NamedTensor[]): number {
  return dp.updateDistance(
    update.map((t) => t.data),
    base.map((t) => t.data),
  );
}

/**
 * Adds the Gaussian mechanism's noise to an average of `count` clipped updates: the sum's noise has
 * standard deviation z * C, so the average's is z * C / count. `round` overrides C and z for the round (adaptive clipping).
 */
export function noiseAverage(
  average: Float32Array[],
  rules: RoundRules,
  count: number,
  round?: { clipNorm: number; noiseMultiplier: number },
): void {
  if (!rules.dp) return;
  const std = ((round?.noiseMultiplier ?? rules.dp.noiseMultiplier) * (round?.clipNorm ?? rules.dp.clipNorm)) / count;
  const gaussian = dp.cryptoGaussian();
  // addGaussianNoise returns a noised copy: put it in place of the tensor.
  average.forEach((tensor, i) => {
    average[i] = dp.addGaussianNoise(tensor, std, gaussian);
  });
}
