/** Cohort's wasm kernels for transposed matMuls and 2x2 max-pool gradients give what tfjs-backend-wasm's own give. */
import type { Tensor, Tensor4D, TensorInfo } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend, type TF } from '../../../node-agent/train/index.js';
import { originalWasmKernel, registerWasmFastKernels } from '../../../node-agent/train/wasm-fast-kernels.js';

/** Runs tfjs-backend-wasm's own kernel `name` (kept when Cohort's replaced it). */
function own(tf: TF, name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown>): Tensor {
  const kernel = originalWasmKernel(name);
  if (!kernel) throw new Error(`${name} was not replaced on wasm`);
  return tf.engine().makeTensorFromTensorInfo(kernel({ inputs, backend: tf.backend(), attrs: attrs as never }) as TensorInfo);
}

/** [batch, m, n] products of a and b (each possibly stored transposed), in double precision. */
function product(a: Float32Array, b: Float32Array, [batch, m, k, n]: [number, number, number, number], ta: boolean, tb: boolean): number[] {
  const out: number[] = [];
  for (let q = 0; q < batch; q++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++)
          sum += (a[q * m * k + (ta ? p * m + i : i * k + p)] as number) * (b[q * k * n + (tb ? j * k + p : p * n + j)] as number);
        out.push(sum);
      }
  return out;
}

/** Every value within float32 rounding of a sum of |k| products. */
function close(t: Tensor, expected: number[]): void {
  const got = t.dataSync();
  expect(got.length).toBe(expected.length);
  got.forEach((v, i) => expect(Math.abs(v - (expected[i] as number))).toBeLessThan(1e-3 + 1e-5 * Math.abs(expected[i] as number)));
}

describe('wasm fast kernels', () => {
  it('replace BatchMatMul, _FusedMatMul and MaxPoolGrad once: registering again wraps nothing twice', async () => {
    const { tf } = await selectBackend('wasm');
    const before = ['BatchMatMul', '_FusedMatMul', 'MaxPoolGrad'].map((k) => tf.getKernel(k, 'wasm'));

    registerWasmFastKernels(tf);

    expect(['BatchMatMul', '_FusedMatMul', 'MaxPoolGrad'].map((k) => tf.getKernel(k, 'wasm'))).toEqual(before);
    for (const k of ['BatchMatMul', '_FusedMatMul', 'MaxPoolGrad']) expect(originalWasmKernel(k)).toBeDefined();
  });

  it('give every transposed matMul the product computed in JavaScript, fused with bias and relu at batch 1', async () => {
    // tfjs-backend-wasm 4.22's own _FusedMatMul is wrong with a transposed operand or batch > 1 (it disagrees with the
    // cpu backend by ~1e2 here); Cohort's transposes first, so at batch 1 the fused product is right too.
    const { tf } = await selectBackend('wasm');
    for (const [m, k, n, batch] of [
      [10, 3136, 512, 1],
      [7, 5, 3, 1],
      [4, 6, 5, 3],
    ] as [number, number, number, number][]) {
      for (const [ta, tb] of [
        [true, false],
        [false, true],
        [true, true],
        [false, false],
      ] as [boolean, boolean][]) {
        const a = tf.randomNormal([batch, ta ? k : m, ta ? m : k], 0, 1, 'float32', m + k);
        const b = tf.randomNormal([batch, tb ? n : k, tb ? k : n], 0, 1, 'float32', n);
        const bias = tf.randomNormal([n], 0, 1, 'float32', 3);
        const expected = product(a.dataSync() as Float32Array, b.dataSync() as Float32Array, [batch, m, k, n], ta, tb);
        const attrs = { transposeA: ta, transposeB: tb };
        const plain = tf.engine().runKernel('BatchMatMul', { a, b }, attrs) as Tensor;
        close(plain, expected);
        // again with the same B (its packed copy cached) and, at batch 1, rank 2 as tf.matMul sends 2-D products
        const [a2, b2] = batch === 1 ? [tf.squeeze(a, [0]), tf.squeeze(b, [0])] : [a, b];
        const again = tf.engine().runKernel('BatchMatMul', { a: a2, b: b2 }, attrs) as Tensor;
        close(again, expected);
        tf.dispose([again, ...(batch === 1 ? [a2, b2] : [])]);
        if (batch === 1) {
          const fresh = tf.add(b, 0); // a B never seen: the first use of a new layer kernel
          const fused = tf.engine().runKernel('_FusedMatMul', { a, b: fresh, bias }, { ...attrs, activation: 'relu' }) as Tensor;
          fresh.dispose();
          const biasValues = bias.dataSync();
          close(
            fused,
            expected.map((v, i) => Math.max(0, v + (biasValues[i % n] as number))),
          );
          fused.dispose();
        }
        tf.dispose([a, b, bias, plain]);
      }
    }
  });

  it("give a 2x2 pool's gradient bit for bit and leave other pools to the original kernel", async () => {
    const { tf } = await selectBackend('wasm');
    for (const [shape, size, stride] of [
      [[2, 9, 7, 3], 2, 2],
      [[2, 9, 7, 3], 3, 2],
      [[1, 8, 8, 2], 2, 1],
    ] as [number[], number, number][]) {
      const input = tf.relu(tf.randomNormal(shape, 0, 1, 'float32', 5));
      const output = tf.maxPool(input as Tensor4D, size, stride, 'valid');
      const dy = tf.randomNormal(output.shape, 0, 1, 'float32', 6);
      const attrs = { filterSize: size, strides: stride, pad: 'valid' };
      const ours = tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, attrs) as Tensor;
      const theirs = own(tf, 'MaxPoolGrad', { dy, input, output }, attrs);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
      expect(ours.dataSync().some((v) => v !== 0)).toBe(true);
      tf.dispose([input, output, dy, ours, theirs]);
    }
  });
});
