/** Initial weights: Glorot-uniform kernels within Keras' bound, zero biases, reproducible from the seed. */
import { describe, expect, it } from 'vitest';
import { computeFans, glorotLimit, initialWeights } from '../../../coordinator/models/index.js';
import { tensorLayout, type ModelSpec } from '../../../protocol/model-spec.js';

const mlp: ModelSpec = { arch: 'mlp', inputShape: [30], hidden: [16], classes: ['a', 'b', 'c'] };
const cnn: ModelSpec = { arch: 'cnn', inputShape: [28, 28, 1], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };

describe('initialWeights', () => {
  it('gives identical weights for the same seed and different ones for another seed', () => {
    const a = initialWeights(mlp, 42);
    const b = initialWeights(mlp, 42);
    const c = initialWeights(mlp, 43);

    expect(a).toEqual(b);
    expect(a[0]!.data).not.toEqual(c[0]!.data);
  });

  it('follows tensorLayout(spec) and zeroes every bias', () => {
    const weights = initialWeights(mlp, 1);

    expect(weights.map(({ name, shape }) => ({ name, shape }))).toEqual(tensorLayout(mlp));
    expect(weights.map((w) => w.name)).toEqual(['dense_0/kernel', 'dense_0/bias', 'dense_1/kernel', 'dense_1/bias']);
    for (const bias of weights.filter((w) => w.name.endsWith('/bias'))) expect(bias.data.every((v) => v === 0)).toBe(true);
  });

  it('draws dense kernels within sqrt(6 / (fanIn + fanOut)) and spreads them over that range', () => {
    const [kernel] = initialWeights(mlp, 3);
    const bound = Math.sqrt(6 / (30 + 16)); // dense_0 kernel [30, 16]
    const data = Array.from(kernel!.data);

    expect(glorotLimit([30, 16])).toBeCloseTo(bound, 12);
    expect(Math.max(...data.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...data)).toBeGreaterThan(0.9 * bound);
    expect(Math.min(...data)).toBeLessThan(-0.9 * bound);
    expect(Math.abs(data.reduce((s, v) => s + v, 0) / data.length)).toBeLessThan(0.1 * bound);
  });

  it('computes conv fans with the receptive field, as Keras does', () => {
    const weights = initialWeights(cnn, 5);
    const conv0 = weights.find((w) => w.name === 'conv_0/kernel')!;
    const bound = Math.sqrt(6 / (5 * 5 * 1 + 5 * 5 * 32)); // kernel [5, 5, 1, 32]

    expect(computeFans([5, 5, 1, 32])).toEqual({ fanIn: 25, fanOut: 800 });
    expect(computeFans([5, 5, 32, 64])).toEqual({ fanIn: 800, fanOut: 1600 });
    expect(conv0.shape).toEqual([5, 5, 1, 32]);
    expect(conv0.data.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(conv0.data.some((v) => Math.abs(v) > 0.9 * bound)).toBe(true);
  });
});
