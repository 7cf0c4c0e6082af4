/** FedAvg: the sample-weighted mean, as a running sum that keeps nothing of the updates it adds. */
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/prng.js';
import { fedAvg, weightedMean } from '../../../coordinator/strategies/index.js';

const f32 = (...values: number[]) => new Float32Array(values);
const shapes = [[2, 2], [2]];
const previous = [f32(0, 0, 0, 0), f32(0, 0)];

describe('FedAvg', () => {
  it('weights updates by sample count (hand-computed, weights 1 and 3)', () => {
    const acc = fedAvg.begin(shapes, previous);

    acc.add([f32(1, 2, 3, 4), f32(10, -2)], 1);
    acc.add([f32(5, 6, 7, 8), f32(2, 2)], 3);
    const result = acc.result();

    // (1*1 + 3*5)/4 = 4, (2 + 18)/4 = 5, (3 + 21)/4 = 6, (4 + 24)/4 = 7; (10 + 6)/4 = 4, (-2 + 6)/4 = 1
    expect(result).toEqual([f32(4, 5, 6, 7), f32(4, 1)]);
    expect(acc.count).toBe(2);
    expect(acc.totalWeight).toBe(4);
  });

  it('equals the weightedMean reference on random data within 1e-6', () => {
    const rng = createPrng(2024);
    const bigShapes = [[30, 20], [20], [20, 5], [5]];
    const updates = Array.from({ length: 7 }, () => ({
      tensors: bigShapes.map(([a = 1, b = 1]) => Float32Array.from({ length: a * b }, () => rng.normal())),
      weight: 1 + rng.int(500),
    }));
    const acc = fedAvg.begin(bigShapes, updates[0]!.tensors);

    for (const u of updates) acc.add(u.tensors, u.weight);
    const result = acc.result()!;
    const expected = weightedMean(updates);

    expect(result.map((t) => t.length)).toEqual([600, 20, 100, 5]);
    result.forEach((tensor, t) => tensor.forEach((v, i) => expect(Math.abs(v - expected[t]![i]!)).toBeLessThan(1e-6)));
  });

  it('keeps no reference to the arrays it was given', () => {
    const acc = fedAvg.begin(shapes, previous);
    const update = [f32(1, 2, 3, 4), f32(5, 6)];
    acc.add(update, 2);

    update[0]!.fill(1000);
    update[1]!.fill(-1000);
    const result = acc.result();

    expect(result).toEqual([f32(1, 2, 3, 4), f32(5, 6)]);
  });

  it('returns null when nothing was added (keep the previous model)', () => {
    const acc = fedAvg.begin(shapes, previous);

    expect(acc.result()).toBeNull();
    expect(acc.count).toBe(0);
    expect(acc.totalWeight).toBe(0);
  });

  it.each([0, -3, Number.NaN, Number.POSITIVE_INFINITY])('refuses weight %s', (weight) => {
    const acc = fedAvg.begin(shapes, previous);

    const add = () => acc.add([f32(1, 2, 3, 4), f32(5, 6)], weight);

    expect(add).toThrow(RangeError);
    expect(add).toThrow(/weight must be a positive finite number/);
    expect(acc.count).toBe(0);
  });

  it('refuses a wrong tensor count or size and leaves the sum untouched', () => {
    const acc = fedAvg.begin(shapes, previous);
    acc.add([f32(1, 1, 1, 1), f32(1, 1)], 1);

    const tooFew = () => acc.add([f32(1, 2, 3, 4)], 1);
    const wrongSize = () => acc.add([f32(9, 9, 9, 9), f32(9, 9, 9)], 1);

    expect(tooFew).toThrow(new RangeError('update 2 has 1 tensors, the model has 2'));
    expect(wrongSize).toThrow(new RangeError('update 2: tensor 1 has 3 values, the model needs 2'));
    expect(acc.result()).toEqual([f32(1, 1, 1, 1), f32(1, 1)]);
    expect(acc.count).toBe(1);
  });

  it('refuses a previous model that does not match the shapes', () => {
    const begin = () => fedAvg.begin(shapes, [f32(0, 0, 0), f32(0, 0)]);

    expect(begin).toThrow(/previous model: tensor 0 has 3 values, the model needs 4/);
  });
});
