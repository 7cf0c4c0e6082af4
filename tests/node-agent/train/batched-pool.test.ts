/** The batched trainer's JavaScript max-pool gradient equals tfjs-backend-wasm's MaxPoolGrad kernel bit for bit, ties and all. */
import type { Tensor, Tensor4D, TensorInfo } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { maxPool2x2Grad, maxPool2x2ReluGrads } from '../../../node-agent/train/batched-pool.js';
import { selectBackend, type TF } from '../../../node-agent/train/index.js';
import { originalWasmKernel } from '../../../node-agent/train/wasm-fast-kernels.js';

/** tfjs-backend-wasm's own MaxPoolGrad of a 2x2 stride-2 pool (Cohort's wasm backend runs maxPool2x2Grad's pass in its place). */
function wasmOwnMaxPoolGrad(tf: TF, dy: Tensor, input: Tensor, output: Tensor): Tensor {
  const own = originalWasmKernel('MaxPoolGrad');
  if (!own) throw new Error('the wasm MaxPoolGrad kernel was not replaced, so its original is not kept');
  const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
  return tf.engine().makeTensorFromTensorInfo(own({ inputs: { dy, input, output }, backend: tf.backend(), attrs }) as TensorInfo);
}

describe('maxPool2x2Grad', () => {
  it('matches the wasm MaxPoolGrad kernel on negatives, relu zeros, exact ties and odd sizes', async () => {
    const { tf } = await selectBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    for (const shape of [
      [3, 28, 28, 4],
      [2, 14, 14, 8],
      [2, 7, 5, 3],
    ] as [number, number, number, number][]) {
      const raw = tf.randomNormal(shape, 0, 1, 'float32', shape[1]);
      const inputs = [
        raw, // negatives: windows with nothing >= FLT_MIN, where the kernel's running max starts
        tf.relu(raw), // all-zero windows, as after the CNN's relu convs
        tf.relu(tf.div(tf.round(tf.mul(raw, 2)), 2)), // many exactly tied positive maxima: the last one wins
      ];
      for (const input of inputs) {
        const output = tf.maxPool(input as Tensor4D, 2, 2, 'valid');
        const dy = tf.randomNormal(output.shape, 0, 1, 'float32', 7);
        const kernel = wasmOwnMaxPoolGrad(tf, dy, input, output);
        const ours = maxPool2x2Grad(tf, dy, input);
        expect(ours.shape).toEqual(input.shape);
        expect(Array.from(ours.dataSync())).toEqual(Array.from((kernel as typeof ours).dataSync()));
        tf.dispose([output, dy, kernel, ours]);
      }
      tf.dispose(inputs);
    }
  });

  it('with reluMask equals the kernel gradient times step(input), the relu it follows, bit for bit', async () => {
    const { tf } = await selectBackend('wasm');
    for (const shape of [
      [3, 28, 28, 4],
      [2, 7, 5, 3],
    ] as [number, number, number, number][]) {
      const raw = tf.randomNormal(shape, 0, 1, 'float32', shape[2]);
      // The first window of channel 0 all relu zeros: the kernel sends its gradient to offset 0, which the relu's mask must zero.
      const [c, row] = [shape[3], shape[2] * shape[3]];
      const values = tf.relu(raw).dataSync() as Float32Array;
      for (const p of [0, c, row, row + c]) values[p] = 0;
      const deadFirst = tf.tensor(values, shape);
      for (const input of [deadFirst, tf.relu(tf.div(tf.round(tf.mul(raw, 2)), 2))]) {
        const output = tf.maxPool(input as Tensor4D, 2, 2, 'valid');
        const dy = tf.randomNormal(output.shape, 0, 1, 'float32', 11);
        const kernel = wasmOwnMaxPoolGrad(tf, dy, input, output);
        const expected = tf.mul(kernel, tf.step(input));
        const ours = maxPool2x2Grad(tf, dy, input, { reluMask: true });
        // +0 and -0 compare equal here: the mask multiplies a negative gradient by 0 where the kernel's path gives -0.
        expect(Array.from(ours.dataSync()).map((v) => v + 0)).toEqual(Array.from(expected.dataSync()).map((v) => v + 0));
        expect(ours.dataSync().some((v) => v !== 0)).toBe(true);
        if (input === deadFirst) {
          expect(kernel.dataSync()[0]).not.toBe(0);
          expect(ours.dataSync()[0]).toBe(0);
        }
        tf.dispose([output, dy, kernel, expected, ours, input]);
      }
      raw.dispose();
    }
  });

  it('maxPool2x2ReluGrads gives the masked gradient bit for bit and its channel sums as tf.sum does, on wasm and cpu', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      const { tf } = await selectBackend(backend);
      const shape: [number, number, number, number] = [3, 14, 14, 5];
      const raw = tf.randomNormal(shape, 0, 1, 'float32', 5);
      const input = tf.relu(tf.div(tf.round(tf.mul(raw, 2)), 2)); // relu zeros and exact ties
      const dy = tf.randomNormal([3, 7, 7, 5], 0, 1, 'float32', 13);
      const { dz, db } = maxPool2x2ReluGrads(tf, dy, input);
      const masked = maxPool2x2Grad(tf, dy, input, { reluMask: true });
      expect(Array.from(dz.dataSync())).toEqual(Array.from(masked.dataSync()));
      const summed = tf.sum(masked, [0, 1, 2]);
      expect(db.shape).toEqual([5]);
      const [got, want] = [db.dataSync(), summed.dataSync()];
      want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
      expect(want.some((v) => Math.abs(v) > 0.1)).toBe(true);
      tf.dispose([raw, input, dy, dz, db, masked, summed]);
    }
    await selectBackend('wasm');
  });

  it('refuses a dy that is not a 2x2 pool of the input, naming both shapes', async () => {
    const { tf } = await selectBackend('wasm');
    const input = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 3, 3, 2]);
    expect(() => maxPool2x2Grad(tf, dy, input)).toThrow(/dy shape \[1, 3, 3, 2\] does not match a 2x2 pool of \[1, 4, 4, 2\]/);
    tf.dispose([input, dy]);
  });
});
