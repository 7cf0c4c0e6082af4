/** The initial global model (version 0): Glorot-uniform kernels and zero biases from a seeded PRNG. */
import { createPrng } from '../../crypto/prng.js';
import type { NamedTensor } from '../../protocol/codec.js';
import { tensorLayout, type ModelSpec } from '../../protocol/model-spec.js';

/**
 * fan_in and fan_out of a weight tensor as Keras computes them: `[in, out]` for a dense kernel;
 * for a conv kernel `[kh, kw, in, out]` both are multiplied by the receptive field kh·kw.
 * @example computeFans([5, 5, 1, 32]) // { fanIn: 25, fanOut: 800 }
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0] as number, fanOut: shape[0] as number };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape.at(-2) as number) * receptive, fanOut: (shape.at(-1) as number) * receptive };
}

/**
 * The Glorot (Xavier) uniform bound sqrt(6 / (fan_in + fan_out)) of a kernel shape.
 * @example glorotLimit([784, 10]) // sqrt(6 / 794)
 */
export function glorotLimit(shape: readonly number[]): number {
  const { fanIn, fanOut } = computeFans(shape);
  return Math.sqrt(6 / (fanIn + fanOut));
}

/**
 * The initial weights of a spec's model, in `tensorLayout(spec)` order: every kernel drawn
 * uniformly from [-limit, limit) with limit = glorotLimit(shape), every bias zero. The same
 * spec and seed always give the same weights.
 * @example const weights = initialWeights(spec, 42); encodeTensors(weights, { version: 0 });
 */
export function initialWeights(spec: ModelSpec, seed: number): NamedTensor[] {
  const rng = createPrng(seed);
  return tensorLayout(spec).map(({ name, shape }) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (!name.endsWith('/bias')) {
      const limit = glorotLimit(shape);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * limit;
    }
    return { name, shape: [...shape], data };
  });
}
