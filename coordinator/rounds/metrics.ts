/** Sample-weighted means of the participants' local metrics, accumulated as updates arrive. */
import type { LocalMetrics } from '../../protocol/index.js';
import type { RoundMetrics } from '../store/index.js';

export interface MetricSums {
  participants: number;
  samples: number;
  trainLoss: number;
  trainAccuracy: number;
  valSamples: number;
  valLoss: number;
  valAccuracy: number;
}

export function emptyMetrics(): MetricSums {
  return { participants: 0, samples: 0, trainLoss: 0, trainAccuracy: 0, valSamples: 0, valLoss: 0, valAccuracy: 0 };
}

/** Folds one participant's metrics in, weighted by its training samples (validation by its validation rows). */
export function addMetrics(m: MetricSums, samples: number, local: LocalMetrics): void {
  m.participants += 1;
  m.samples += samples;
  m.trainLoss += samples * local.trainLoss;
  m.trainAccuracy += samples * local.trainAccuracy;
  if (local.valSamples && local.valLoss !== undefined && local.valAccuracy !== undefined) {
    m.valSamples += local.valSamples;
    m.valLoss += local.valSamples * local.valLoss;
    m.valAccuracy += local.valSamples * local.valAccuracy;
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
    trainAccuracy: m.samples > 0 ? m.trainAccuracy / m.samples : 0,
  };
  if (m.valSamples > 0) {
    out.valLoss = m.valLoss / m.valSamples;
    out.valAccuracy = m.valAccuracy / m.valSamples;
  }
  return out;
}
