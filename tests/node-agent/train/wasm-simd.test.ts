/** Cohort's wasm SIMD kernels: the committed binary is the .wat's, and each kernel equals its JavaScript pass bit for bit. */
import { readFileSync } from 'node:fs';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { denseUpdateSimd } from '../../../node-agent/train/batched-dense.js';
import { maxPool2x2GradInto, type Shape4 } from '../../../node-agent/train/max-pool-grad.js';
import { selectBackend, type TF } from '../../../node-agent/train/index.js';
import { heapTensor, heapView } from '../../../node-agent/train/wasm-heap.js';
import { WASM_SIMD_BASE64 } from '../../../node-agent/train/wasm-simd-binary.js';
import { simdKernels } from '../../../node-agent/train/wasm-simd.js';
import { assembleWat, WAT_PATH } from '../../../simulations/build/wat.js';

/** Runs the SIMD pool gradient into a new heap tensor; returns dx, the channel sums and whether it ran. */
function simdPoolGrad(tf: TF, x: Tensor, g: Tensor, mask: boolean): { dx: Float32Array; sums: Float32Array; ran: boolean } {
  const simd = simdKernels(tf.backend());
  if (!simd) throw new Error('the SIMD kernels did not load on the wasm backend');
  const c = x.shape[3] as number;
  const sums = heapTensor(tf, [c], (v) => v.fill(0));
  let ran = false;
  const dx = heapTensor(tf, [...x.shape], (out) => {
    ran = simd.maxPool2x2Grad(heapView(tf, x), heapView(tf, g), out, x.shape as Shape4, mask, heapView(tf, sums));
  });
  const result = { dx: Float32Array.from(dx.dataSync()), sums: Float32Array.from(sums.dataSync()), ran };
  tf.dispose([dx, sums]);
  return result;
}

describe("Cohort's wasm SIMD kernels", () => {
  it('ship the binary that wasm-simd.wat assembles to (npm run build:wasm regenerates it)', async () => {
    const bytes = await assembleWat(readFileSync(WAT_PATH, 'utf8'));
    expect(Buffer.from(WASM_SIMD_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
  });

  it('compute the 2x2 max-pool gradient as the JavaScript pass does, bit for bit: ties, relu zeros, negatives, odd sizes, mask', async () => {
    const { tf } = await selectBackend('wasm');
    for (const shape of [
      [3, 28, 28, 32],
      [2, 7, 5, 4],
      [1, 9, 6, 8],
    ] as Shape4[]) {
      const raw = tf.randomNormal(shape, 0, 1, 'float32', shape[1] + shape[3]);
      const inputs = [raw, tf.relu(raw), tf.relu(tf.div(tf.round(tf.mul(raw, 2)), 2))];
      const g = tf.randomNormal([shape[0], shape[1] >> 1, shape[2] >> 1, shape[3]], 0, 1, 'float32', 17);
      for (const x of inputs)
        for (const mask of [false, true]) {
          const got = simdPoolGrad(tf, x, g, mask);
          expect(got.ran).toBe(true);
          const want = new Float32Array(x.size);
          const sums = new Float64Array(shape[3]);
          maxPool2x2GradInto(x.dataSync() as Float32Array, g.dataSync() as Float32Array, want, shape, mask, sums);
          expect(Array.from(got.dx)).toEqual(Array.from(want));
          sums.forEach((s, ch) => expect(got.sums[ch]).toBeCloseTo(s, 3));
        }
      tf.dispose([...inputs, g]);
    }
  });

  it("send a first window with nothing >= FLT_MIN to offset 0, as the wasm kernel's rule does, and only without the relu mask", async () => {
    const { tf } = await selectBackend('wasm');
    const shape: Shape4 = [1, 4, 4, 4];
    const values = (tf.randomUniform(shape, 0.5, 1, 'float32', 3).dataSync() as Float32Array).slice();
    for (const p of [0, 4, 16, 20]) values[p] = -1; // channel 0 of the first window: all negative
    const x = tf.tensor(values, shape);
    const g = tf.tensor(
      Float32Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 2, 2, 4],
    );
    const plain = simdPoolGrad(tf, x, g, false);
    expect(plain.dx[0]).toBe(1);
    expect(plain.sums[0]).toBe(1 + 5 + 9 + 13);
    const masked = simdPoolGrad(tf, x, g, true);
    expect(masked.dx[0]).toBe(0);
    expect(masked.sums[0]).toBe(5 + 9 + 13);
    tf.dispose([x, g]);
  });

  it('refuse views smaller than the shapes they are given, before writing anything into the heap', async () => {
    const { tf } = await selectBackend('wasm');
    const simd = simdKernels(tf.backend());
    const [x, g] = [tf.randomNormal([1, 4, 4, 4]), tf.randomNormal([1, 2, 2, 4])];
    const small = heapTensor(tf, [8], (v) => v.fill(7));
    expect(() => simd?.maxPool2x2Grad(heapView(tf, x), heapView(tf, g), heapView(tf, small), [1, 4, 4, 4], false)).toThrow(
      /operand 2 has 8 values, 64 needed/,
    );
    expect(Array.from(small.dataSync())).toEqual(new Array(8).fill(7));
    tf.dispose([x, g, small]);
  });

  it('leave channels that are not a multiple of 4 to the JavaScript pass, writing nothing', async () => {
    const { tf } = await selectBackend('wasm');
    const x = tf.randomNormal([1, 4, 4, 3]);
    const g = tf.randomNormal([1, 2, 2, 3]);
    expect(simdPoolGrad(tf, x, g, false).ran).toBe(false);
    tf.dispose([x, g]);
  });

  it('build im2col patches as a direct reading of the definition, zeros outside the input', async () => {
    const { tf } = await selectBackend('wasm');
    const simd = simdKernels(tf.backend());
    const shape: Shape4 = [2, 5, 7, 3];
    const [kh, kw, top, left] = [3, 5, 1, 2];
    const [oh, ow] = [shape[1] + 2 * top - kh + 1, shape[2] + 2 * left - kw + 1];
    const x = tf.randomNormal(shape, 0, 1, 'float32', 9);
    const rows = shape[0] * oh * ow;
    const out = heapTensor(tf, [kh * kw * shape[3], rows], (v) => simd?.im2col(heapView(tf, x), v, { shape, kh, kw, oh, ow, top, left }));
    const [xs, got] = [x.dataSync(), out.dataSync()];
    const [, h, w, ci] = shape;
    let checked = 0;
    for (let a = 0; a < kh; a++)
      for (let b = 0; b < kw; b++)
        for (let c = 0; c < ci; c++)
          for (let m = 0; m < shape[0]; m++)
            for (let i = 0; i < oh; i++)
              for (let j = 0; j < ow; j++) {
                const [si, sj] = [i + a - top, j + b - left];
                const want = si >= 0 && si < h && sj >= 0 && sj < w ? xs[((m * h + si) * w + sj) * ci + c] : 0;
                expect(got[((a * kw + b) * ci + c) * rows + (m * oh + i) * ow + j]).toBe(want);
                checked++;
              }
    expect(checked).toBe(kh * kw * ci * rows);
    tf.dispose([x, out]);
  });

  it("compute a dense layer's forward product and SGD update as tfjs does bit for bit, and its input gradient to float rounding", async () => {
    const { tf } = await selectBackend('wasm');
    for (const [rows, inUnits, units] of [
      [10, 3136, 512],
      [7, 52, 32],
      [1, 20, 16],
    ] as const) {
      const sizes = { rows, inUnits, units };
      const h = tf.randomNormal([rows, inUnits], 0, 1, 'float32', rows) as Tensor2D;
      const k = tf.randomNormal([inUnits, units], 0, 0.1, 'float32', inUnits) as Tensor2D;
      const dz = tf.randomNormal([rows, units], 0, 1, 'float32', units) as Tensor2D;
      const simd = simdKernels(tf.backend());
      let ran = 0;
      const z = heapTensor(
        tf,
        [rows, units],
        (out) => void (ran += Number(simd?.denseForward(heapView(tf, h), heapView(tf, k), out, sizes))),
      );
      const dx = heapTensor(
        tf,
        [rows, inUnits],
        (out) => void (ran += Number(simd?.denseInputGrad(heapView(tf, dz), heapView(tf, k), out, sizes))),
      );
      const next = denseUpdateSimd(tf, k, h, dz);
      if (ran !== 2 || !next) throw new Error(`the SIMD dense kernels did not run at ${JSON.stringify(sizes)}`);
      // tfjs's own products (the batched trainer's path without the SIMD kernels)
      const zWant = tf.transpose(tf.matMul(tf.transpose(k), tf.transpose(h)));
      const nextWant = tf.add(tf.matMul(tf.transpose(h), dz), k);
      expect(Array.from(z.dataSync())).toEqual(Array.from(zWant.dataSync()));
      expect(Array.from(next.dataSync())).toEqual(Array.from(nextWant.dataSync()));
      // the input gradient against a float64 reference
      const [dzs, ks, got] = [dz.dataSync(), k.dataSync(), dx.dataSync()];
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < inUnits; i++) {
          let want = 0;
          for (let u = 0; u < units; u++) want += (dzs[r * units + u] as number) * (ks[i * units + u] as number);
          expect(Math.abs((got[r * inUnits + i] as number) - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)) * Math.sqrt(units));
        }
      tf.dispose([h, k, dz, z, dx, next, zWant, nextWant]);
    }
  });

  it('leave dense layers whose sizes they do not take (units not a multiple of 16) and the cpu backend to tfjs', async () => {
    const { tf } = await selectBackend('wasm');
    const simd = simdKernels(tf.backend());
    const [h, k, dz] = [tf.ones([2, 8]), tf.ones([8, 10]), tf.ones([2, 10])] as [Tensor2D, Tensor2D, Tensor2D];
    const sizes = { rows: 2, inUnits: 8, units: 10 };
    const out = heapTensor(tf, [2, 10], (v) => {
      expect(simd?.denseForward(heapView(tf, h), heapView(tf, k), v, sizes)).toBe(false);
      expect(simd?.denseUpdate(heapView(tf, k), heapView(tf, h), heapView(tf, dz), v, sizes)).toBe(false);
    });
    expect(denseUpdateSimd(tf, k, h, dz)).toBeUndefined();
    tf.dispose([h, k, dz, out]);
    const cpu = (await selectBackend('cpu')).tf;
    const [h2, k2, s2] = [cpu.ones([2, 8]), cpu.ones([8, 16]), cpu.ones([2, 16])] as [Tensor2D, Tensor2D, Tensor2D];
    expect(denseUpdateSimd(cpu, k2, h2, s2)).toBeUndefined();
    cpu.dispose([h2, k2, s2]);
    await selectBackend('wasm');
  });

  it('are not offered where there is no wasm heap (the cpu backend): callers keep their JavaScript pass', async () => {
    const { tf } = await selectBackend('cpu');
    expect(simdKernels(tf.backend())).toBeUndefined();
    expect(simdKernels(undefined)).toBeUndefined();
    await selectBackend('wasm');
  });
});
