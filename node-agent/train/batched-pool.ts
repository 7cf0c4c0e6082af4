/** The gradient of a 2x2 stride-2 'valid' max pool, computed in JavaScript exactly as tfjs-backend-wasm's MaxPoolGrad. */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { maxPool2x2GradInto, type Shape4 } from './max-pool-grad.js';
import { heapTensor, heapView, onWasmHeap } from './wasm-heap.js';
import { maxPool2x2GradPass } from './wasm-simd.js';

/** Throws unless dy has the shape of a 2x2 stride-2 'valid' pool of `input`. */
function checkPooled(dy: Tensor, input: Tensor): void {
  const [n, h, w, c] = input.shape as [number, number, number, number];
  if (dy.shape[0] !== n || dy.shape[1] !== Math.floor(h / 2) || dy.shape[2] !== Math.floor(w / 2) || dy.shape[3] !== c)
    throw new Error(`max-pool gradient: dy shape [${dy.shape.join(', ')}] does not match a 2x2 pool of [${input.shape.join(', ')}]`);
}

/**
 * dL/dx of a 2x2 stride-2 'valid' max pool of NHWC `input` given dL/dy, with tfjs-backend-wasm 4.22's tie rules: each
 * window's gradient goes to the LAST position (row-major) holding a value >= the running max, which starts at FLT_MIN;
 * a window with no value >= FLT_MIN sends its gradient to offset 0 of the whole tensor (when that lies in the window),
 * as the wasm kernel does. One pass over the wasm heap (no copies; Cohort's SIMD kernel, else JavaScript), 3-60x faster
 * than that kernel on the CNN's pools; the wasm kernel and this agree bit for bit (tests/node-agent/train/batched-pool.test.ts).
 * With `reluMask`, `input` is a relu's output and the result is that relu's input gradient, dL/dx · (x > 0): what
 * `tf.mul(maxPool2x2Grad(dy, x), tf.step(x))` gives, in the same pass.
 * @example const dx = maxPool2x2Grad(tf, dy, h); // h [r, 28, 28, 32], dy [r, 14, 14, 32]
 */
export function maxPool2x2Grad(tf: TF, dy: Tensor, input: Tensor, opts: { reluMask?: boolean } = {}): Tensor {
  return pooledGrads(tf, dy, input, opts.reluMask === true, false).dx;
}

/** The pass of both exported functions: on the wasm heap (SIMD or JavaScript, maxPool2x2GradPass), else over copies. */
function pooledGrads(tf: TF, dy: Tensor, input: Tensor, mask: boolean, sum: boolean): { dx: Tensor; db?: Tensor } {
  checkPooled(dy, input);
  const shape = input.shape as Shape4;
  if (onWasmHeap(tf)) {
    const db = sum ? heapTensor(tf, [shape[3]], (v) => v.fill(0)) : undefined;
    const dx = heapTensor(tf, [...shape], (out) =>
      maxPool2x2GradPass(tf.backend(), heapView(tf, input), heapView(tf, dy), out, shape, mask, db && heapView(tf, db)),
    );
    return { dx, db };
  }
  const sums = sum ? new Float64Array(shape[3]) : undefined;
  const dx = new Float32Array(tf.util.sizeFromShape(shape));
  maxPool2x2GradInto(input.dataSync() as Float32Array, dy.dataSync() as Float32Array, dx, shape, mask, sums);
  return { dx: tf.tensor(dx, shape, 'float32'), db: sums && tf.tensor1d(Float32Array.from(sums), 'float32') };
}

/**
 * For a 2x2 stride-2 'valid' max pool over a relu conv's output `input`: that conv's dL/dz (maxPool2x2Grad with
 * `reluMask`) and its bias gradient dL/db, the sum of dL/dz over batch, rows and columns (what `tf.sum(dz, [0, 1, 2])`
 * gives), both from one pass: every value the pass writes is added to its channel's sum (float32 in window order with
 * Cohort's SIMD kernel, wasm-simd.ts; float64 rounded once in the JavaScript pass).
 * @example const { dz, db } = maxPool2x2ReluGrads(tf, dy, h); // db [32] for h [r, 28, 28, 32]
 */
export function maxPool2x2ReluGrads(tf: TF, dy: Tensor, input: Tensor): { dz: Tensor; db: Tensor } {
  const { dx, db } = pooledGrads(tf, dy, input, true, true);
  return { dz: dx, db: db as Tensor };
}
