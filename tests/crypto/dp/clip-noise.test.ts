import { describe, expect, it } from 'vitest';
import {
  addGaussianNoise,
  centralNoise,
  clipL2,
  distributedNoise,
  distributedNoiseStd,
  effectiveNoiseMultiplier,
  l2Norm,
} from '../../../crypto/dp/clip-noise.js';
import { cryptoGaussian } from '../../../crypto/dp/gaussian.js';
import { seededRandom } from '../helpers.js';

function meanAndStd(values: Float32Array | Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / (values.length - 1)) };
}

describe('L2 clipping', () => {
  it('scales an update above the clip norm down to it and reports the original norm', () => {
    const update = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const norm = l2Norm(update);

    const { clipped, norm: reported, factor } = clipL2(update, 2);

    expect(norm).toBeGreaterThan(2);
    expect(reported).toBeCloseTo(norm, 10);
    expect(l2Norm(clipped)).toBeCloseTo(2, 5);
    expect(factor).toBeCloseTo(2 / norm, 12);
    expect(clipped[7]! / update[7]!).toBeCloseTo(factor, 6);
  });

  it('leaves an update within the clip norm unchanged (a copy), and refuses non-finite entries', () => {
    const update = Float32Array.of(0.3, -0.4);

    const { clipped, norm, factor } = clipL2(update, 1);

    expect(clipped).toEqual(update);
    expect(clipped).not.toBe(update);
    expect(norm).toBeCloseTo(0.5, 7);
    expect(factor).toBe(1);
    expect(() => clipL2(Float32Array.of(1, Infinity), 1)).toThrow(RangeError);
    expect(() => clipL2(update, 0)).toThrow(RangeError);
  });
});

describe('Gaussian noise', () => {
  it('draws standard normals: mean 0, std 1, 68.27% within one std, kurtosis 3 (200,000 draws)', () => {
    const gaussian = cryptoGaussian(seededRandom('normal'));
    const draws = Float64Array.from({ length: 200_000 }, () => gaussian());

    const { mean, std } = meanAndStd(draws);
    const withinOne = draws.filter((x) => Math.abs(x) <= 1).length / draws.length;
    const kurtosis = draws.reduce((acc, x) => acc + x ** 4, 0) / draws.length;

    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(200_000));
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
    expect(Math.abs(withinOne - 0.6827)).toBeLessThan(0.005);
    expect(Math.abs(kurtosis - 3)).toBeLessThan(0.05);
  });

  it('central DP: noise on the sum has std z*C (empirically within 1%)', () => {
    const sum = new Float64Array(200_000);

    const noised = centralNoise({ sum, clipNorm: 0.5, noiseMultiplier: 1.1, gaussian: cryptoGaussian(seededRandom('central')) });

    const { mean, std } = meanAndStd(noised);
    expect(Math.abs(std - 0.55) / 0.55).toBeLessThan(0.01);
    expect(Math.abs(mean)).toBeLessThan(5 * (0.55 / Math.sqrt(200_000)));
    expect(sum.every((v) => v === 0)).toBe(true); // input untouched
  });

  it('distributed DP: 10 institutions adding std z*C/sqrt(10) give a sum with std z*C; 7 of them give z*C*sqrt(0.7)', () => {
    const length = 40_000;
    const gaussian = cryptoGaussian(seededRandom('distributed'));
    const shares = Array.from({ length: 10 }, () =>
      distributedNoise({ update: new Float32Array(length), clipNorm: 2, noiseMultiplier: 1, participants: 10, gaussian }),
    );
    const sumOf = (k: number) => {
      const out = new Float64Array(length);
      for (const s of shares.slice(0, k)) for (let i = 0; i < length; i++) out[i] = (out[i] as number) + (s[i] as number);
      return out;
    };

    const all = meanAndStd(sumOf(10)).std;
    const seven = meanAndStd(sumOf(7)).std;

    expect(distributedNoiseStd({ clipNorm: 2, noiseMultiplier: 1, participants: 10 })).toBeCloseTo(2 / Math.sqrt(10), 12);
    expect(Math.abs(all - 2) / 2).toBeLessThan(0.02); // std estimate: relative error 1/sqrt(2N) = 0.35%
    const effective = effectiveNoiseMultiplier({ noiseMultiplier: 1, planned: 10, reported: 7 }) * 2;
    expect(effective).toBeCloseTo(2 * Math.sqrt(0.7), 12);
    expect(Math.abs(seven - effective) / effective).toBeLessThan(0.02);
  });

  it('is reproducible with an injected source, different without, and std 0 adds nothing', () => {
    const v = new Float32Array(8);

    const a = addGaussianNoise(v, 1, cryptoGaussian(seededRandom('same')));
    const b = addGaussianNoise(v, 1, cryptoGaussian(seededRandom('same')));
    const c = addGaussianNoise(v, 1);

    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a).toBeInstanceOf(Float32Array);
    expect(addGaussianNoise(v, 0)).toEqual(v);
    expect(() => addGaussianNoise(v, -1)).toThrow(RangeError);
  });
});
