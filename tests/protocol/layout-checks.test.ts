import { describe, expect, it } from 'vitest';
import { checkFinite, checkLayout, type NamedTensor } from '../../protocol/codec.js';
import { tensorLayout, type ModelSpec } from '../../protocol/model-spec.js';
import { thrown } from './helpers.js';

const spec: ModelSpec = { arch: 'logreg', inputShape: [4], classes: ['no', 'yes'] };
const expected = tensorLayout(spec); // dense_0/kernel [4,2], dense_0/bias [2]

function tensorsFor(layout: { name: string; shape: number[] }[]): NamedTensor[] {
  return layout.map(({ name, shape }) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
}

describe('checkLayout', () => {
  it('accepts tensors that match the spec layout', () => {
    expect(() => checkLayout(tensorsFor(expected), expected)).not.toThrow();
  });

  it('names the first tensor that is missing, extra, reordered, renamed or reshaped', () => {
    const [kernel, bias] = tensorsFor(expected) as [NamedTensor, NamedTensor];
    const cases: [NamedTensor[], RegExp][] = [
      [[kernel], /tensor 'dense_0\/bias' \(#1\) is missing: got 1 tensors, expected 2/],
      [[kernel, bias, { name: 'extra', shape: [1], data: new Float32Array(1) }], /unexpected extra tensor 'extra' \(#2\)/],
      [[bias, kernel], /tensor 'dense_0\/bias' is out of order \('dense_0\/kernel' expected\) at position 0/],
      [[kernel, { ...bias, name: 'dense_0/b' }], /unexpected tensor 'dense_0\/b' at position 1/],
      [[{ ...kernel, shape: [2, 4] }, bias], /tensor 'dense_0\/kernel' has shape \[2,4\], expected \[4,2\]/],
      [[kernel, { ...bias, data: new Float32Array(3) }], /tensor 'dense_0\/bias' holds 3 values, shape \[2\] needs 2/],
      [[], /tensor 'dense_0\/kernel' \(#0\) is missing/],
    ];
    for (const [tensors, message] of cases) {
      const error = thrown(() => checkLayout(tensors, expected));
      expect(error.code).toBe('SHAPE_MISMATCH');
      expect(error.message).toMatch(message);
    }
  });
});

describe('checkFinite', () => {
  it('accepts finite values, including -0, denormals and the largest float32', () => {
    const data = Float32Array.from([0, -0, 1e-45, 3.4028234663852886e38, -1]);

    expect(() => checkFinite([{ name: 'w', shape: [5], data }])).not.toThrow();
  });

  it('names the tensor and index of the first NaN or Infinity', () => {
    const ok = { name: 'a', shape: [2], data: Float32Array.from([1, 2]) };
    for (const [bad, shown] of [
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
    ] as const) {
      const data = Float32Array.from([0, 1, 2, bad, NaN]);

      const error = thrown(() => checkFinite([ok, { name: 'b', shape: [5], data }]));

      expect(error.code).toBe('NON_FINITE');
      expect(error.message).toBe(`tensor 'b' has ${shown} at index 3`);
    }
  });
});
