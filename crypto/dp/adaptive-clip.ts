/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private Learning with Adaptive Clipping"):
 * the clip norm follows a target quantile gamma of the update norms by the geometric step C <- C * exp(-eta (b - gamma)),
 * where b is the (noised) fraction of participants whose update norm was at most C.
 */
import { cryptoGaussian, type GaussianSource } from './gaussian.js';

export interface AdaptiveClipParams {
  /** gamma: the quantile of update norms to track (the paper recommends 0.5). */
  targetQuantile: number;
  /** eta_C: the geometric learning rate (the paper uses 0.2). */
  learningRate: number;
  /** sigma_b: std of the Gaussian noise added to the COUNT of clipped-below participants (the paper suggests m / 20); 0 for none. */
  countNoiseStd: number;
}

export const DEFAULT_ADAPTIVE_CLIP: Readonly<Omit<AdaptiveClipParams, 'countNoiseStd'>> = Object.freeze({
  targetQuantile: 0.5,
  learningRate: 0.2,
});

/**
 * What each participant reports alongside its update: 1 when its update norm is at most the current clip norm.
 * @example clipIndicator(0.8, 1.0) // 1
 */
export function clipIndicator(norm: number, clipNorm: number): 0 | 1 {
  if (!(norm >= 0) || !(clipNorm > 0)) throw new RangeError(`need norm >= 0 and clipNorm > 0, got ${norm}, ${clipNorm}`);
  return norm <= clipNorm ? 1 : 0;
}

/**
 * One round of the clip-norm update, from the sum of indicators (e.g. learnt through secure aggregation) and the
 * number of participants m: b = (countBelow + N(0, sigma_b^2)) / m, C' = C * exp(-eta (b - gamma)).
 * @example adaptiveClipStep({ clipNorm: 1, countBelow: 8, participants: 10, targetQuantile: 0.5, learningRate: 0.2, countNoiseStd: 0.5 })
 */
export function adaptiveClipStep(
  args: AdaptiveClipParams & { clipNorm: number; countBelow: number; participants: number; gaussian?: GaussianSource },
): { clipNorm: number; noisedFraction: number } {
  const { clipNorm, countBelow, participants, targetQuantile, learningRate, countNoiseStd } = args;
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  if (!Number.isInteger(participants) || participants < 1)
    throw new RangeError(`participants must be a positive integer, got ${participants}`);
  if (!(countBelow >= 0 && countBelow <= participants)) throw new RangeError(`countBelow must be in [0, participants], got ${countBelow}`);
  if (!(targetQuantile >= 0 && targetQuantile <= 1)) throw new RangeError(`targetQuantile must be in [0, 1], got ${targetQuantile}`);
  if (!(learningRate > 0) || !Number.isFinite(learningRate))
    throw new RangeError(`learningRate must be finite and > 0, got ${learningRate}`);
  if (!(countNoiseStd >= 0) || !Number.isFinite(countNoiseStd))
    throw new RangeError(`countNoiseStd must be finite and >= 0, got ${countNoiseStd}`);
  const noise = countNoiseStd > 0 ? countNoiseStd * (args.gaussian ?? cryptoGaussian())() : 0;
  const noisedFraction = (countBelow + noise) / participants;
  return { clipNorm: clipNorm * Math.exp(-learningRate * (noisedFraction - targetQuantile)), noisedFraction };
}

/**
 * The noise multiplier left for the update sum when part of the privacy budget pays for the noised count:
 * z_update = (z^-2 - (2 sigma_b)^-2)^(-1/2) (Andrew et al. 2021, Section 3.1; the count's sensitivity is 1/2 after centring),
 * so that the pair of Gaussian releases together is as private as one release with noise multiplier z.
 * @example updateNoiseMultiplier({ noiseMultiplier: 1.0, countNoiseStd: 5 }) // 1.005...
 */
export function updateNoiseMultiplier(args: { noiseMultiplier: number; countNoiseStd: number }): number {
  const { noiseMultiplier: z, countNoiseStd: sigmaB } = args;
  if (!(z > 0) || !Number.isFinite(z)) throw new RangeError(`noiseMultiplier must be finite and > 0, got ${z}`);
  if (!(sigmaB > 0)) throw new RangeError(`countNoiseStd must be > 0, got ${sigmaB}`);
  const remaining = z ** -2 - (2 * sigmaB) ** -2;
  if (!(remaining > 0))
    throw new RangeError(`countNoiseStd ${sigmaB} is too small for noise multiplier ${z}: need 2 * countNoiseStd > noiseMultiplier`);
  return remaining ** -0.5;
}
