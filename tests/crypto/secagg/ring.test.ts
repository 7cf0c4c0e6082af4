import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/prng.js';
import { addInto, averageErrorBound, dequantiseSum, quantisationParams, quantiseWeighted, subInto } from '../../../crypto/secagg/ring.js';
import { seededRandom } from '../helpers.js';
import { makeUpdates, maxAbsDiff, plainFedAvg } from './harness.js';

const sumOf = (vectors: Uint32Array[]) => {
  const acc = new Uint32Array((vectors[0] as Uint32Array).length);
  for (const v of vectors) addInto(acc, v);
  return acc;
};

describe('fixed-point ring encoding', () => {
  it('chooses a scale at which n worst-case encoded entries cannot overflow a signed 32-bit sum', () => {
    for (const [clipNorm, maxWeight, maxParticipants] of [
      [1, 1, 2],
      [1, 5000, 30],
      [10, 60000, 1000],
      [0.01, 1, 100000],
    ] as const) {
      const p = quantisationParams({ clipNorm, maxWeight, maxParticipants });

      expect(maxParticipants * (maxWeight * clipNorm * p.scale + 1)).toBeLessThanOrEqual(2 ** 31 - 1);
    }
    expect(() => quantisationParams({ clipNorm: 1, maxWeight: 2 ** 20, maxParticipants: 2 ** 13 })).toThrow(/2\^32/);
  });

  it('decodes the extreme sum (n participants at weight W, all at +C or all at -C on one coordinate) without wrapping', () => {
    const n = 100;
    const params = quantisationParams({ clipNorm: 2, maxWeight: 5000, maxParticipants: n });
    for (const sign of [1, -1]) {
      const update = new Float32Array(3);
      update[1] = sign * 50; // clipped to norm 2
      const vectors = Array.from({ length: n }, () => quantiseWeighted(update, 5000, params).vector);

      const { weightedSum, weightSum } = dequantiseSum(sumOf(vectors), params);

      expect(weightSum).toBe(n * 5000);
      expect(Math.abs((weightedSum[1] as number) - sign * n * 5000 * 2)).toBeLessThanOrEqual(n / (2 * params.scale));
      expect(weightedSum[0]).toBe(0);
    }
  });

  it('recovers the weighted average of n clipped updates within the stated bound, with both roundings', () => {
    const n = 20;
    const { updates, weights } = makeUpdates(n, 2000, 11);
    const params = quantisationParams({ clipNorm: 1, maxWeight: 5000, maxParticipants: n });
    const want = plainFedAvg(updates, weights);
    for (const rounding of ['nearest', 'stochastic'] as const) {
      const random = seededRandom(`ring/${rounding}`);
      const encoded = updates.map((u, k) => quantiseWeighted(u, weights[k] as number, params, { rounding, random }).vector);

      const { average, weightSum } = dequantiseSum(sumOf(encoded), params);
      const bound = averageErrorBound({ params, participants: n, weightSum, rounding });

      expect(weightSum).toBe(weights.reduce((a, b) => a + b, 0));
      // float32 output adds at most 2^-24 relative; the averages here are below 1 in magnitude
      expect(maxAbsDiff(average as Float32Array, want)).toBeLessThanOrEqual(bound + 2 ** -24);
      expect(maxAbsDiff(average as Float32Array, want)).toBeGreaterThan(0);
    }
  });

  it('rounds stochastically without bias: a value a quarter of a unit above an integer averages to it', () => {
    const params = quantisationParams({ clipNorm: 1, maxWeight: 1, maxParticipants: 2 });
    const update = new Float32Array(4096).fill(3.25 / params.scale / 64); // norm 3.25/scale, far below the clip
    const { vector } = quantiseWeighted(update, 1, params, { rounding: 'stochastic', random: seededRandom('ring/bias') });

    const values = Array.from(vector.subarray(0, 4096), (v) => v | 0);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;

    expect(new Set(values)).toEqual(new Set([0, 1]));
    // E = 3.25/64 = 0.0508 units; Bernoulli std / sqrt(4096) = 0.0034: within 5 std
    expect(Math.abs(mean - 3.25 / 64)).toBeLessThan(5 * Math.sqrt(((3.25 / 64) * (1 - 3.25 / 64)) / 4096));
  });

  it('clips before encoding, reports the original norm, and refuses weights outside 0..W', () => {
    const params = quantisationParams({ clipNorm: 1, maxWeight: 10, maxParticipants: 5 });
    const big = Float32Array.of(3, 4);

    const result = quantiseWeighted(big, 1, params);
    const decoded = dequantiseSum(result.vector, params).weightedSum;

    expect(result.norm).toBeCloseTo(5, 6);
    expect(result.clipped).toBe(true);
    expect(Math.hypot(decoded[0] as number, decoded[1] as number)).toBeCloseTo(1, 4);
    expect(() => quantiseWeighted(big, 11, params)).toThrow(RangeError);
    expect(() => quantiseWeighted(big, 1.5, params)).toThrow(RangeError);
    expect(() => quantiseWeighted(Float32Array.of(NaN), 1, params)).toThrow(RangeError);
  });

  it('adds and subtracts modulo 2^32 so that a mask added then removed leaves the vector unchanged', () => {
    const prng = createPrng(5);
    const x = Uint32Array.from({ length: 1000 }, () => prng.nextUint32());
    const mask = Uint32Array.from({ length: 1000 }, () => prng.nextUint32());
    const y = x.slice();

    addInto(y, mask);
    const changed = y.some((v, i) => v !== x[i]);
    subInto(y, mask);

    expect(changed).toBe(true);
    expect(y).toEqual(x);
    expect(() => addInto(y, new Uint32Array(3))).toThrow(RangeError);
  });
});
