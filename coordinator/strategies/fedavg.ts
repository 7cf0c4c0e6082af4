/** FedAvg (McMahan et al. 2017): the sample-weighted mean of the updates, as a running float64 sum. */
import { checkTensors, checkWeight, sizeOf } from './checks.js';
import type { Accumulator, Strategy } from './types.js';
import { createWeightedSum } from './weighted-sum.js';

/**
 * Sample-weighted FedAvg. Each `add` folds `weight * tensor` into one Float64Array per tensor (a
 * WebAssembly SIMD kernel, see weighted-sum.ts), so a round holds one model in float64 however many
 * institutions take part; the update arrays are not kept. An invalid update throws RangeError and leaves the sum untouched.
 * @example
 * const acc = fedAvg.begin([[2], [1]], previous);
 * acc.add([new Float32Array([1, 2]), new Float32Array([0])], 1);
 * acc.add([new Float32Array([5, 6]), new Float32Array([4])], 3);
 * acc.result(); // [Float32Array [4, 5], Float32Array [3]]
 */
export const fedAvg: Strategy = {
  name: 'fedavg',
  params: Object.freeze({}),
  begin(shapes, previous) {
    const sizes = shapes.map(sizeOf);
    checkTensors(previous, sizes, 'previous model');
    const { sums, add } = createWeightedSum(sizes);
    let count = 0;
    let totalWeight = 0;
    const accumulator: Accumulator = {
      add(tensors, weight) {
        checkWeight(weight);
        checkTensors(tensors, sizes, `update ${count + 1}`);
        add(tensors, weight);
        count += 1;
        totalWeight += weight;
      },
      get count() {
        return count;
      },
      get totalWeight() {
        return totalWeight;
      },
      result() {
        if (count === 0) return null;
        return sums.map((sum) => {
          const out = new Float32Array(sum.length);
          for (let i = 0; i < sum.length; i++) out[i] = (sum[i] as number) / totalWeight;
          return out;
        });
      },
    };
    return accumulator;
  },
};

/**
 * The weighted mean of whole updates held at once: the reference FedAvg is tested against.
 * @example weightedMean([{ tensors: [new Float32Array([1])], weight: 1 }, { tensors: [new Float32Array([5])], weight: 3 }]) // [[4]]
 */
export function weightedMean(updates: { tensors: Float32Array[]; weight: number }[]): Float32Array[] {
  const first = updates[0];
  if (!first) throw new RangeError('weightedMean needs at least one update');
  const total = updates.reduce((n, u) => n + u.weight, 0);
  return first.tensors.map((tensor, t) => {
    const out = new Float32Array(tensor.length);
    for (let i = 0; i < out.length; i++) {
      let sum = 0;
      for (const u of updates) sum += u.weight * ((u.tensors[t] as Float32Array)[i] as number);
      out[i] = sum / total;
    }
    return out;
  });
}
