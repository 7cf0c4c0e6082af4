import { describe, expect, it } from 'vitest';
import { adaptiveClipStep, clipIndicator, updateNoiseMultiplier } from '../../../crypto/dp/adaptive-clip.js';
import { cryptoGaussian } from '../../../crypto/dp/gaussian.js';
import { createPrng } from '../../../crypto/prng.js';
import { seededRandom } from '../helpers.js';

/** Runs `rounds` of adaptive clipping with m participants whose update norms are log-normal(0, 0.5); returns the clip norms. */
function simulate(targetQuantile: number, rounds: number, start: number): number[] {
  const m = 100;
  const prng = createPrng(3);
  const gaussian = cryptoGaussian(seededRandom(`adaptive/${targetQuantile}`));
  let clipNorm = start;
  const history: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const norms = Array.from({ length: m }, () => Math.exp(0.5 * prng.normal()));
    const countBelow = norms.reduce((acc, n) => acc + clipIndicator(n, clipNorm), 0);
    clipNorm = adaptiveClipStep({
      clipNorm,
      countBelow,
      participants: m,
      targetQuantile,
      learningRate: 0.2,
      countNoiseStd: m / 20,
      gaussian,
    }).clipNorm;
    history.push(clipNorm);
  }
  return history;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('converges from far below to the median of the update norms (exp(0) = 1) with noised counts', () => {
    const history = simulate(0.5, 400, 0.05);

    expect(history[10]).toBeLessThan(0.5);
    expect(Math.abs(mean(history.slice(-200)) - 1)).toBeLessThan(0.1);
  });

  it('tracks a high quantile from far above: gamma = 0.9 gives exp(0.5 * 1.2816) = 1.898', () => {
    const history = simulate(0.9, 400, 20);

    expect(Math.abs(mean(history.slice(-200)) - 1.898) / 1.898).toBeLessThan(0.1);
  });

  it('takes the geometric step C * exp(-eta (b - gamma)) exactly without noise', () => {
    const step = adaptiveClipStep({
      clipNorm: 2,
      countBelow: 8,
      participants: 10,
      targetQuantile: 0.5,
      learningRate: 0.2,
      countNoiseStd: 0,
    });

    expect(step.noisedFraction).toBe(0.8);
    expect(step.clipNorm).toBeCloseTo(2 * Math.exp(-0.2 * 0.3), 14);
    expect(clipIndicator(1, 1)).toBe(1);
    expect(clipIndicator(1.01, 1)).toBe(0);
  });

  it('leaves the update sum a noise multiplier z_update = (z^-2 - (2 sigma_b)^-2)^-1/2', () => {
    expect(updateNoiseMultiplier({ noiseMultiplier: 1, countNoiseStd: 5 })).toBeCloseTo(1 / Math.sqrt(1 - 1 / 100), 12);
    expect(() => updateNoiseMultiplier({ noiseMultiplier: 1, countNoiseStd: 0.5 })).toThrow(/too small/);
  });
});
