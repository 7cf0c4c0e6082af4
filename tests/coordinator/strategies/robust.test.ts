/** Median, trimmed mean, Krum and multi-Krum against hand-computed cases with a malicious update. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createStrategy,
  krumScores,
  type BufferedAccumulator,
  medianOf,
  trimCount,
  trimmedMeanOf,
} from '../../../coordinator/strategies/index.js';

const f32 = (...values: number[]) => new Float32Array(values);
const shapes = [[2], [1]];
const previous = [f32(0, 0), f32(0)];

/** Adds `updates` (all weight 1 except where given) to a fresh round of `name` and returns the result. */
function aggregate(name: string, params: Record<string, number>, updates: Float32Array[][], weights: number[] = []): Float32Array[] | null {
  const acc = createStrategy(name, params).begin(shapes, previous);
  updates.forEach((u, i) => acc.add(u, weights[i] ?? 1));
  return acc.result();
}

// Four honest updates near ([1, 1], [0]) and one huge malicious one, given the largest weight.
const honest = [
  [f32(1, 1), f32(0)],
  [f32(1.1, 1), f32(0.1)],
  [f32(1, 0.9), f32(-0.1)],
  [f32(0.9, 1.1), f32(0.2)],
];
const attacker = [f32(1e6, -1e9), f32(1e7)];
const withAttacker = [honest[0]!, honest[1]!, attacker, honest[2]!, honest[3]!];
const weights = [1, 1, 1000, 1, 1];

describe('coordinate-wise median', () => {
  it('ignores a single huge outlier and its weight (hand-computed median of 5)', () => {
    const result = aggregate('median', {}, withAttacker, weights);

    // x: {1, 1.1, 1e6, 1, 0.9} -> 1; y: {1, 1, -1e9, 0.9, 1.1} -> 1; z: {0, 0.1, 1e7, -0.1, 0.2} -> 0.1.
    expect(result).toEqual([f32(1, 1), f32(0.1)]);
  });

  it('averages the two middle values of an even count', () => {
    expect(medianOf(Float64Array.of(4, 1, 3, 2))).toBe(2.5);
    expect(medianOf(Float64Array.of(5, 1, 100, 2, 3))).toBe(3);
  });
});

describe('coordinate-wise trimmed mean', () => {
  it('drops the floor(β·n) largest and smallest per coordinate (hand-computed, β 0.2, n 5)', () => {
    const result = aggregate('trimmed-mean', { beta: 0.2 }, withAttacker, weights);

    // k = 1. x: sorted {0.9, 1, 1, 1.1, 1e6} -> (1 + 1 + 1.1)/3; y: {-1e9, 0.9, 1, 1, 1.1} -> (0.9 + 1 + 1)/3;
    // z: {-0.1, 0, 0.1, 0.2, 1e7} -> (0 + 0.1 + 0.2)/3.
    const r = result!;
    expect(r[0]![0]).toBeCloseTo(3.1 / 3, 6);
    expect(r[0]![1]).toBeCloseTo(2.9 / 3, 6);
    expect(r[1]![0]).toBeCloseTo(0.3 / 3, 6);
  });

  it('trims nothing with fewer than 1/β updates (the default β 0.1 with 5 updates is the plain mean)', () => {
    expect(trimCount(5, 0.1)).toBe(0);
    expect(trimCount(10, 0.1)).toBe(1);
    expect(trimCount(29, 0.1)).toBe(2);
    expect(trimmedMeanOf(Float64Array.of(5, 1, 100, 2, 3), 1)).toBeCloseTo(10 / 3, 12);
    expect(() => trimmedMeanOf(Float64Array.of(1, 2), 1)).toThrow(/cannot trim 1 values from each side of 2/);
  });
});

describe('Krum', () => {
  it('picks an honest update when f = 1 of n = 5 is malicious (hand-computed scores)', () => {
    const result = aggregate('krum', { f: 1 }, withAttacker, weights);

    // n - f - 2 = 2 nearest. Squared distances: 0-1 0.02, 0-3 0.02, 0-4 0.06, 1-3 0.06, 1-4 0.06, 3-4 0.14 (plus
    // huge ones to the attacker). Scores: u0 0.04, u1 0.08, u3 0.08, u4 0.12, attacker huge: Krum returns u0 exactly.
    expect(result).toEqual(honest[0]);
  });

  it('computes the scores as sums of the n - f - 2 smallest squared distances', () => {
    // Points on a line at 0, 1, 2, 3, 100 (n 5, f 1: 2 nearest each).
    const xs = [0, 1, 2, 3, 100];
    const dist = Float64Array.from({ length: 25 }, (_, k) => (xs[Math.floor(k / 5)]! - xs[k % 5]!) ** 2);

    const scores = krumScores(dist, 5, 1);

    expect([...scores]).toEqual([1 + 4, 1 + 1, 1 + 1, 1 + 4, 97 ** 2 + 98 ** 2]);
  });

  it('refuses to run with fewer than 2f + 3 updates, deleting its spill file, and says so if asked again', () => {
    const acc = createStrategy('krum', { f: 1, memoryBytes: 0 }).begin(shapes, previous) as BufferedAccumulator;
    honest.forEach((u) => acc.add(u, 1));
    const dir = acc.spillPath!;

    const result = () => acc.result();

    expect(result).toThrow('Krum with f=1 needs at least 5 updates (n > 2f + 2), got 4');
    expect(existsSync(dir)).toBe(false);
    expect(result).toThrow(/aggregation failed: begin a new one/);
    expect(acc.count).toBe(4);
  });
});

describe('multi-Krum', () => {
  it('averages the m lowest-scored updates, unweighted (hand-computed, m 3)', () => {
    const result = aggregate('multi-krum', { f: 1, m: 3 }, withAttacker, weights)!;

    // Lowest scores: u0 0.04, then u1 and u3 at 0.08 (tie broken by index): mean of u0, u1, u3.
    expect(result[0]![0]).toBeCloseTo((1 + 1.1 + 1) / 3, 6);
    expect(result[0]![1]).toBeCloseTo((1 + 1 + 0.9) / 3, 6);
    expect(result[1]![0]).toBeCloseTo((0 + 0.1 - 0.1) / 3, 6);
  });

  it('averages n - f updates by default: every honest one, never the attacker', () => {
    const result = aggregate('multi-krum', { f: 1 }, withAttacker, weights)!;

    // Mean of the four honest updates: ([4/4, 4/4], [0.2/4]).
    expect(result[0]![0]).toBeCloseTo(1, 6);
    expect(result[0]![1]).toBeCloseTo(1, 6);
    expect(result[1]![0]).toBeCloseTo(0.05, 6);
  });

  it('refuses an m larger than the number of updates', () => {
    expect(() => aggregate('multi-krum', { f: 1, m: 6 }, withAttacker)).toThrow('multi-Krum cannot average m=6 updates out of 5');
  });
});
