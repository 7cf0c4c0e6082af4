/** Pooling of per-site feature statistics (count, mean, M2) into federation-wide z-score parameters and imputation values. */
import { featureSources } from './data-dictionary.js';
import type { FeatureStats } from './messages.js';
import type { ChannelNormalization, ModelSpec, Normalization } from './model-spec.js';

/** Pooled per-feature count, mean and M2 (Chan et al.): each feature over the values its sites counted. */
function pool(list: readonly FeatureStats[]): { counts: Float64Array; mean: Float64Array; m2: Float64Array } {
  const width = list[0]?.mean.length ?? 0;
  const counts = new Float64Array(width);
  const mean = new Float64Array(width);
  const m2 = new Float64Array(width);
  for (const s of list) {
    if (s.mean.length !== width || s.m2.length !== width || (s.counts && s.counts.length !== width)) {
      throw new RangeError(`feature statistics disagree on width: ${s.mean.length} vs ${width}`);
    }
    for (let j = 0; j < width; j++) {
      const n = s.counts ? (s.counts[j] as number) : s.count;
      if (n === 0) continue;
      const count = counts[j] as number;
      const total = count + n;
      const delta = (s.mean[j] as number) - (mean[j] as number);
      mean[j] = (mean[j] as number) + (delta * n) / total;
      m2[j] = (m2[j] as number) + (s.m2[j] as number) + (delta * delta * count * n) / total;
      counts[j] = total;
    }
  }
  return { counts, mean, m2 };
}

/**
 * Pools per-site statistics with Chan et al.'s parallel formula; a constant feature gets std 1. A feature's
 * statistics are over the values the sites counted for it (`counts`, when missing cells were left out).
 * Only counts, means and sums of squared deviations cross the wire, never a sample.
 * @example poolFeatureStats([{ count: 2, mean: [1], m2: [2] }, { count: 2, mean: [3], m2: [2] }]) // mean [2], std [sqrt(2)]
 */
export function poolFeatureStats(list: readonly FeatureStats[]): Normalization {
  const { counts, mean, m2 } = pool(list);
  if (list.reduce((n, s) => n + s.count, 0) === 0) throw new RangeError('no samples in the pooled feature statistics');
  const std = Array.from(m2, (v, j) => {
    const sd = (counts[j] as number) > 0 ? Math.sqrt(v / (counts[j] as number)) : 0;
    return sd > 1e-8 ? sd : 1;
  });
  return { mean: Array.from(mean), std };
}

/**
 * A tabular spec completed from the sites' statistics: the z-score of every feature and, when the spec has
 * preprocessing, each numeric column's imputation value (the pooled mean of its non-missing values; 0 when no
 * site has a value). Never a row of any site: the inputs are counts, means and m2 only.
 * @example const spec2 = poolTabularSpec(spec, [statsA, statsB]); spec2.preprocessing.impute.age // pooled mean age
 */
export function poolTabularSpec(spec: ModelSpec, list: readonly FeatureStats[]): ModelSpec {
  const normalization = poolFeatureStats(list);
  if (!spec.preprocessing) return { ...spec, normalization };
  const { counts, mean } = pool(list);
  const impute: Record<string, number> = {};
  featureSources(spec.preprocessing.columns).forEach((f, j) => {
    if (f.kind === 'value') impute[f.column] = (counts[j] as number) > 0 ? (mean[j] as number) : 0;
  });
  return { ...spec, normalization, preprocessing: { ...spec.preprocessing, impute } };
}

/**
 * Per-channel pixel statistics from running sums (what a site accumulates while reading its images): count, mean and
 * M2 = sum of squares - sum^2 / count per channel, the form poolFeatureStats takes.
 * @example channelStatsFromSums(4, [2], [1.5]) // { count: 4, mean: [0.5], m2: [0.5] }
 */
export function channelStatsFromSums(count: number, sums: readonly number[], squares: readonly number[]): FeatureStats {
  const mean = sums.map((s) => (count > 0 ? s / count : 0));
  const m2 = sums.map((s, c) => (count > 0 ? Math.max(0, (squares[c] as number) - (s * s) / count) : 0));
  return { count, mean, m2 };
}

/**
 * An image spec completed from the sites' per-channel statistics: `channelNormalization` gets the pooled mean and
 * std of every channel (Chan et al., as the tabular z-scores; a constant channel gets std 1). The inputs are counts,
 * means and M2 per channel only, never a pixel.
 * @example poolChannelSpec({ ...spec, channelNormalization: { source: 'pooled' } }, [statsA, statsB]).channelNormalization.mean
 */
export function poolChannelSpec(spec: ModelSpec, list: readonly FeatureStats[]): ModelSpec {
  const pooled = poolFeatureStats(list);
  const channelNormalization: ChannelNormalization = { source: 'pooled', mean: pooled.mean, std: pooled.std };
  return { ...spec, channelNormalization };
}
