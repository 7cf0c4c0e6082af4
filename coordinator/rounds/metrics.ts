/** Sample-weighted means of the participants' local metrics, accumulated as updates arrive. */
import type { LocalMetrics } from '../../protocol/index.js';
import type { RoundMetrics } from '../store/index.js';

/** The validation scores averaged by validation rows: each over the sites that reported it (tasks report different ones). */
const VAL_SCORES = [
  'valLoss',
  'valAccuracy',
  'valAuc',
  'valSensitivity',
  'valSpecificity',
  'valBrier',
  'valMacroF1',
  'valMae',
  'valRmse',
  'valR2',
] as const;
type ValScore = (typeof VAL_SCORES)[number];

export interface MetricSums {
  participants: number;
  samples: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Training samples of the participants that reported a training accuracy (none do for regression). */
  trainAccuracySamples: number;
  valSamples: number;
  /** Per score: the weighted sum and the validation rows behind it. */
  val: Partial<Record<ValScore, { sum: number; rows: number }>>;
}

export function emptyMetrics(): MetricSums {
  return { participants: 0, samples: 0, trainLoss: 0, trainAccuracy: 0, trainAccuracySamples: 0, valSamples: 0, val: {} };
}

/** Folds one participant's metrics in, weighted by its training samples (validation by its validation rows). */
export function addMetrics(m: MetricSums, samples: number, local: LocalMetrics): void {
  m.participants += 1;
  m.samples += samples;
  m.trainLoss += samples * local.trainLoss;
  if (local.trainAccuracy !== undefined) {
    m.trainAccuracy += samples * local.trainAccuracy;
    m.trainAccuracySamples += samples;
  }
  if (local.valSamples && local.valLoss !== undefined) {
    m.valSamples += local.valSamples;
    for (const key of VAL_SCORES) {
      const value = local[key];
      if (value === undefined) continue;
      const acc = (m.val[key] ??= { sum: 0, rows: 0 });
      acc.sum += local.valSamples * value;
      acc.rows += local.valSamples;
    }
  }
}

/**
 * The round's metrics.
 * @example finishMetrics(sums) // { participants: 3, samples: 810, trainLoss: 0.31, ... }
 */
export function finishMetrics(m: MetricSums): RoundMetrics {
  const out: RoundMetrics = {
    participants: m.participants,
    samples: m.samples,
    trainLoss: m.samples > 0 ? m.trainLoss / m.samples : 0,
  };
  if (m.trainAccuracySamples > 0 || m.samples === 0)
    out.trainAccuracy = m.trainAccuracySamples > 0 ? m.trainAccuracy / m.trainAccuracySamples : 0;
  for (const key of VAL_SCORES) {
    const acc = m.val[key];
    if (acc && acc.rows > 0) out[key] = acc.sum / acc.rows;
  }
  return out;
}
