import { describe, expect, it } from 'vitest';
import { quantiseWeighted } from '../../../crypto/secagg/ring.js';
import type { MaskedInput } from '../../../crypto/secagg/messages.js';
import { runProtocol } from './harness.js';

/** Chi-square statistic of the top bytes of 32-bit words against the uniform distribution on 256 bins. */
function topByteChiSquare(words: Uint32Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const w of words) counts[w >>> 24] = (counts[w >>> 24] as number) + 1;
  const expected = words.length / 256;
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

/** Kolmogorov-Smirnov distance between the words / 2^32 and Uniform(0, 1). */
function ksDistance(words: Uint32Array): number {
  const u = Float64Array.from(words, (w) => w / 4294967296).sort();
  let d = 0;
  for (let i = 0; i < u.length; i++) d = Math.max(d, (i + 1) / u.length - (u[i] as number), (u[i] as number) - i / u.length);
  return d;
}

// Critical values at p = 0.001: chi-square with 255 degrees of freedom (Wilson-Hilferty: 255 (1 - 2/2295 + 3.0902 sqrt(2/2295))^3),
// and the asymptotic KS value 1.9495 / sqrt(N).
const CHI_SQUARE_CRITICAL = 255 * (1 - 2 / (9 * 255) + 3.0902 * Math.sqrt(2 / (9 * 255))) ** 3;
const ksCritical = (n: number) => 1.9495 / Math.sqrt(n);

describe('a masked input', () => {
  // 3 participants, threshold 2, 65,536 parameters: one masked vector y_u of 65,537 words, fixed seeds.
  const run = runProtocol({ n: 3, vectorLength: 1 << 16, label: 'uniform', stopBeforeUnmask: true });
  const masked = run.masked.get('p00') as MaskedInput;
  const plain = quantiseWeighted(run.updates[0] as Float32Array, run.weights[0] as number, run.config.quantisation).vector;

  it('is statistically indistinguishable from uniform noise on Z_(2^32) (chi-square of top bytes, Kolmogorov-Smirnov)', () => {
    expect(masked.masked).toHaveLength(plain.length);
    expect(CHI_SQUARE_CRITICAL).toBeCloseTo(330.5, 0);
    expect(topByteChiSquare(masked.masked)).toBeLessThan(CHI_SQUARE_CRITICAL);
    expect(ksDistance(masked.masked)).toBeLessThan(ksCritical(masked.masked.length));
  });

  it('the same two tests reject the unmasked encoding of the same update (the tests can fail)', () => {
    expect(topByteChiSquare(plain)).toBeGreaterThan(100 * CHI_SQUARE_CRITICAL);
    expect(ksDistance(plain)).toBeGreaterThan(10 * ksCritical(plain.length));
  });
});
