/** Per-feature statistics an institution can share without its rows, their pooling, and z-scoring. */
import type { FeatureStats } from '../../protocol/messages.js';
import type { Normalization } from '../../protocol/model-spec.js';
import { featureSources, type Preprocessing } from '../../protocol/data-dictionary.js';
import { rowWidth, type Dataset } from './dataset.js';

export type { FeatureStats } from '../../protocol/messages.js';
/** Chan et al.'s pooling of per-site stats into a mean and std (std floor 1e-8; constant features get 1). */
export { poolFeatureStats } from '../../protocol/feature-stats.js';

/**
 * Welford's one-pass count, mean and m2 (sum of squared deviations) per feature. Missing values (NaN, a numeric
 * cell the federation has not imputed yet) are left out, and then `counts` says how many values each feature has.
 * @example const s = featureStats(ds); s.m2[0] / (s.count - 1) // sample variance of feature 0
 */
export function featureStats(ds: Dataset): FeatureStats {
  const width = rowWidth(ds);
  const mean = new Float64Array(width);
  const m2 = new Float64Array(width);
  const counts = new Float64Array(width);
  for (let i = 0; i < ds.n; i++) {
    const base = i * width;
    for (let j = 0; j < width; j++) {
      const v = ds.x[base + j] as number;
      if (Number.isNaN(v)) continue;
      const count = (counts[j] as number) + 1;
      counts[j] = count;
      const delta = v - (mean[j] as number);
      mean[j] = (mean[j] as number) + delta / count;
      m2[j] = (m2[j] as number) + delta * (v - (mean[j] as number));
    }
  }
  const partial = counts.some((c) => c !== ds.n);
  return { count: ds.n, mean: Array.from(mean), m2: Array.from(m2), ...(partial ? { counts: Array.from(counts) } : {}) };
}

/**
 * A copy of the dataset with its missing numeric values (NaN) set to the federation's imputation values; the same
 * dataset when the preprocessing has none yet or nothing is missing.
 * @example const filled = imputeMissing(ds, spec.preprocessing)
 */
export function imputeMissing(ds: Dataset, pre: Preprocessing): Dataset {
  const impute = pre.impute;
  if (!impute || !ds.x.some(Number.isNaN)) return ds;
  const width = rowWidth(ds);
  const fill = featureSources(pre.columns).map((f) => (f.kind === 'value' ? (impute[f.column] ?? Number.NaN) : Number.NaN));
  const x = Float32Array.from(ds.x, (v, i) => (Number.isNaN(v) ? (fill[i % width] as number) : v));
  return { ...ds, x };
}

/**
 * A copy of the dataset with each feature z-scored: `(x - mean) / std`.
 * @example const scaled = normalize(ds, spec.normalization);
 */
export function normalize(ds: Dataset, norm: Normalization): Dataset {
  const width = rowWidth(ds);
  if (norm.mean.length !== width || norm.std.length !== width) {
    throw new RangeError(`normalization has ${norm.mean.length} means and ${norm.std.length} stds, data has ${width} features`);
  }
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < ds.n; i++) {
    const base = i * width;
    for (let j = 0; j < width; j++) {
      x[base + j] = ((ds.x[base + j] as number) - (norm.mean[j] as number)) / (norm.std[j] as number);
    }
  }
  return { ...ds, x };
}
