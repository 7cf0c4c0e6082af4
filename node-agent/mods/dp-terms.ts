/** The study's DP terms enforced at the site: the manifest's budget claim, the clip norm, and the noise it adds under secure aggregation. */
import { DpRefusal, type DpTerms, type ErrorCode, type RoundTask } from '../../protocol/index.js';
import { dp } from '../../crypto/index.js';

export type DpVerdict = { ok: true } | { ok: false; code: ErrorCode; message: string };

/**
 * What the study's terms spend over all its rounds at their sampling rate (the coordinator's accountant, recomputed).
 * @example plannedEpsilon(manifest.privacy.dp, manifest.rounds) // 12.6
 */
export function plannedEpsilon(terms: DpTerms, rounds: number): number {
  return dp.epsilonFor({ q: terms.samplingRate, noiseMultiplier: terms.noiseMultiplier, steps: rounds, delta: terms.delta }).epsilon;
}

/**
 * The std of this site's share of the distributed noise: z*C/sqrt(t), so that the t or more survivors secure aggregation
 * needs add up to at least the central mechanism's z*C. The site computes it from the terms it consented to.
 * @example siteNoiseStd(manifest.privacy.dp, task.secagg.threshold) // 0.52
 */
export function siteNoiseStd(terms: DpTerms, threshold: number): number {
  return dp.distributedNoiseStd({ noiseMultiplier: terms.noiseMultiplier, clipNorm: terms.clipNorm, participants: threshold });
}

const refuse = (code: ErrorCode, message: string): DpVerdict => ({ ok: false, code, message });
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

/**
 * Whether a training task runs the DP mechanism of the signed study terms: the manifest's epsilon is at least what its
 * own terms spend, the update is clipped, and under secure aggregation the clip norm is C and the noise std the one
 * this site derives (a coordinator that asks for less noise, e.g. noiseStd 0, is refused). Without DP: nothing to check.
 * @example const v = checkDpTerms(task); if (!v.ok) decline(task.round, v.code, v.message)
 */
export function checkDpTerms(task: Pick<RoundTask, 'study' | 'config' | 'secagg'>): DpVerdict {
  const terms = task.study.privacy.dp;
  if (!terms) return { ok: true };
  const planned = plannedEpsilon(terms, task.study.rounds);
  if (terms.epsilon < planned * (1 - 1e-9)) {
    return refuse(
      DpRefusal.BUDGET_CLAIM,
      `the study states epsilon ${terms.epsilon}, but ${task.study.rounds} rounds of its mechanism (z ${terms.noiseMultiplier}, q ${terms.samplingRate}, delta ${terms.delta}) spend ${planned.toPrecision(6)}`,
    );
  }
  const clip = task.config.dpClipNorm;
  if (clip === undefined)
    return refuse(DpRefusal.TERMS, 'the study runs differential privacy but the task sets no clip norm: the update would leave unclipped');
  if (!task.secagg) return { ok: true }; // central DP: the coordinator adds the noise (and adaptive clipping may move C)
  if (clip !== terms.clipNorm || task.secagg.dpClipNorm !== terms.clipNorm) {
    return refuse(
      DpRefusal.TERMS,
      `the task clips to ${clip} (secure-aggregation terms: ${String(task.secagg.dpClipNorm)}), the study's clip norm is ${terms.clipNorm}`,
    );
  }
  const expected = siteNoiseStd(terms, task.secagg.threshold);
  const asked = task.secagg.noiseStd ?? 0;
  if (!near(asked, expected)) {
    return refuse(
      DpRefusal.TERMS,
      `the secure-aggregation terms ask each site for noise std ${asked}, the study's terms give ${expected.toPrecision(6)} (z ${terms.noiseMultiplier} x C ${terms.clipNorm} / sqrt(threshold ${task.secagg.threshold}))`,
    );
  }
  return { ok: true };
}
