/** Byzantine update transforms: what a simulated attacker sends instead of its trained weights. */
import { describe, expect, it } from 'vitest';
import { scaleDelta, scaledUpdate, signFlip } from '../../simulations/simulate/byzantine.js';
import type { NamedTensor } from '../../protocol/index.js';

const t = (name: string, ...values: number[]): NamedTensor => ({ name, shape: [values.length], data: Float32Array.from(values) });
const global = [t('w', 1, 2, 3), t('b', 0.5)];
const trained = [t('w', 2, 2, 1), t('b', 1)];

describe('Byzantine update transforms', () => {
  it('scaleDelta returns global + factor·(trained − global) with the names and shapes kept', () => {
    const out = scaleDelta(global, trained, 3);

    expect(out.map((x) => x.name)).toEqual(['w', 'b']);
    expect(out.map((x) => x.shape)).toEqual([[3], [1]]);
    expect(Array.from(out[0]!.data)).toEqual([4, 2, -3]);
    expect(Array.from(out[1]!.data)).toEqual([2]);
  });

  it('sign flip sends global − k·δ, and k = 1 is the plain −δ', () => {
    const flipped = signFlip(4).transform({ round: 1, global, trained });
    const plain = signFlip(1);

    expect(Array.from(flipped[0]!.data)).toEqual([-3, 2, 11]);
    expect(plain.name).toBe('sign flip (−δ)');
    expect(Array.from(plain.transform({ round: 1, global, trained })[1]!.data)).toEqual([0]);
  });

  it('a scaled update sends global + s·δ and leaves the inputs untouched', () => {
    const out = scaledUpdate(10).transform({ round: 2, global, trained });

    expect(Array.from(out[0]!.data)).toEqual([11, 2, -17]);
    expect(Array.from(trained[0]!.data)).toEqual([2, 2, 1]);
    expect(Array.from(global[0]!.data)).toEqual([1, 2, 3]);
  });

  it('refuses mismatched models and non-positive factors', () => {
    expect(() => scaleDelta(global, [trained[0]!], 2)).toThrow(/2 tensors|1 tensors/);
    expect(() => scaleDelta(global, [t('w', 1, 2), trained[1]!], 2)).toThrow(/tensor w/);
    expect(() => signFlip(0)).toThrow(RangeError);
    expect(() => scaledUpdate(-1)).toThrow(RangeError);
  });
});
