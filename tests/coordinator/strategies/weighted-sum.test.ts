/** The running weighted sum behind FedAvg: the SIMD kernel gives the bits of the plain float64 loop, tails and block edges included. */
import { describe, expect, it } from 'vitest';
import { createWeightedSum } from '../../../coordinator/strategies/weighted-sum.js';
import { createPrng } from '../../../crypto/index.js';

function randomTensor(size: number, seed: number): Float32Array {
  const rng = createPrng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() - 0.5) * 10;
  return out;
}

describe('createWeightedSum', () => {
  it('accumulates weight * x into float64 sums bit for bit like the plain loop, for sizes around the 4-value step and the 16,384-value block', () => {
    const sizes = [1, 3, 4, 5, 16_383, 16_384, 16_385, 40_001];
    const ws = createWeightedSum(sizes);
    const reference = sizes.map((size) => new Float64Array(size));
    const weights = [1, 37, 0.125, 1e6];

    weights.forEach((weight, u) => {
      const tensors = sizes.map((size, t) => randomTensor(size, 100 * u + t));
      ws.add(tensors, weight);
      tensors.forEach((x, t) => {
        const sum = reference[t] as Float64Array;
        for (let i = 0; i < x.length; i++) sum[i] = (sum[i] as number) + weight * (x[i] as number);
      });
    });

    expect(['wasm-simd', 'js']).toContain(ws.kind);
    ws.sums.forEach((sum, t) => {
      expect(sum.length).toBe(sizes[t]);
      expect(Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).equals(Buffer.from((reference[t] as Float64Array).buffer))).toBe(true);
    });
  });

  it('keeps sums of different accumulators apart', () => {
    const a = createWeightedSum([5]);
    const b = createWeightedSum([5]);

    a.add([new Float32Array([1, 2, 3, 4, 5])], 2);
    b.add([new Float32Array([1, 1, 1, 1, 1])], 1);

    expect([...(a.sums[0] as Float64Array)]).toEqual([2, 4, 6, 8, 10]);
    expect([...(b.sums[0] as Float64Array)]).toEqual([1, 1, 1, 1, 1]);
  });
});
