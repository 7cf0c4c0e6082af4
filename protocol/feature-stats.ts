/** Pooling of per-site feature statistics (count, mean, M2) into federation-wide z-score parameters. */
import type { FeatureStats } from './messages.js';
import type { Normalization } from './model-spec.js';

/**
 * Pools per-site statistics with Chan et al.'s parallel formula; a constant feature gets std 1.
 * Only counts, means and sums of squared deviations cross the wire, never a sample.
 * @example poolFeatureStats([{ count: 2, mean: [1], m2: [2] }, { count: 2, mean: [3], m2: [2] }]) // mean [2], std [sqrt(2)]
 */
export function poolFeatureStats(list: readonly FeatureStats[]): Normalization {
  const width = list[0]?.mean.length ?? 0;
  let count = 0;
  const mean = new Float64Array(width);
  const m2 = new Float64Array(width);
  for (const s of list) {
    if (s.mean.length !== width || s.m2.length !== width) {
      throw new RangeError(`feature statistics disagree on width: ${s.mean.length} vs ${width}`);
    }
    if (s.count === 0) continue;
    const total = count + s.count;
    for (let j = 0; j < width; j++) {
      const delta = (s.mean[j] as number) - (mean[j] as number);
      mean[j] = (mean[j] as number) + (delta * s.count) / total;
      m2[j] = (m2[j] as number) + (s.m2[j] as number) + (delta * delta * count * s.count) / total;
    }
    count = total;
  }
  if (count === 0) throw new RangeError('no samples in the pooled feature statistics');
  const std = Array.from(m2, (v) => {
    const sd = Math.sqrt(v / count);
    return sd > 1e-8 ? sd : 1;
  });
  return { mean: Array.from(mean), std };
}
