/** The gradient of a 2x2 stride-2 'valid' max pool, computed in JavaScript exactly as tfjs-backend-wasm's MaxPoolGrad. */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { heapTensor, heapView, onWasmHeap } from './wasm-heap.js';

/** tfjs-backend-wasm's MaxPoolGrad starts each window's running max at FLT_MIN (its `numeric_limits<float>::min()`), not -inf. */
const FLT_MIN = 1.1754943508222875e-38;

type Shape4 = [number, number, number, number];

/**
 * dL/dx of a 2x2 stride-2 'valid' max pool of NHWC `input` given dL/dy, with tfjs-backend-wasm 4.22's tie rules: each
 * window's gradient goes to the LAST position (row-major) holding a value >= the running max, which starts at FLT_MIN;
 * a window with no value >= FLT_MIN sends its gradient to offset 0 of the whole tensor (when that lies in the window),
 * as the wasm kernel does. One pass in JavaScript over the wasm heap (no copies), 3-4x faster than that kernel on the
 * CNN's pools; the wasm kernel and this agree bit for bit (tests/node-agent/train/batched-pool.test.ts).
 * With `reluMask`, `input` is a relu's output and the result is that relu's input gradient, dL/dx · (x > 0): what
 * `tf.mul(maxPool2x2Grad(dy, x), tf.step(x))` gives, in the same pass.
 * @example const dx = maxPool2x2Grad(tf, dy, h); // h [r, 28, 28, 32], dy [r, 14, 14, 32]
 */
export function maxPool2x2Grad(tf: TF, dy: Tensor, input: Tensor, opts: { reluMask?: boolean } = {}): Tensor {
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const [oh, ow] = [Math.floor(h / 2), Math.floor(w / 2)];
  if (dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== c)
    throw new Error(`max-pool gradient: dy shape [${dy.shape.join(', ')}] does not match a 2x2 pool of [${input.shape.join(', ')}]`);
  const mask = opts.reluMask === true;
  if (onWasmHeap(tf))
    return heapTensor(tf, [...input.shape], (dx) =>
      maxPool2x2GradInto(heapView(tf, input), heapView(tf, dy), dx, input.shape as Shape4, mask),
    );
  const dx = new Float32Array(n * h * w * c);
  maxPool2x2GradInto(input.dataSync() as Float32Array, dy.dataSync() as Float32Array, dx, input.shape as Shape4, mask);
  return tf.tensor(dx, input.shape, 'float32');
}

/**
 * The pass of maxPool2x2Grad over plain arrays: NHWC `x` of `shape`, its pool's gradient `g`, the result written to all
 * of `dx` (x's size); `mask` applies the relu whose output `x` is. Also the wasm MaxPoolGrad kernel's (wasm-fast-kernels.ts).
 * @example maxPool2x2GradInto(x, g, dx, [1, 4, 4, 2], false);
 */
export function maxPool2x2GradInto(x: Float32Array, g: Float32Array, dx: Float32Array, shape: Shape4, mask: boolean): void {
  const [n, h, w, c] = shape;
  const [oh, ow] = [Math.floor(h / 2), Math.floor(w / 2)];
  dx.fill(0);
  const row = w * c;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const base = ((b * h + 2 * i) * w + 2 * j) * c;
        for (let ch = 0; ch < c; ch++, o++) {
          const p0 = base + ch;
          const p1 = p0 + c;
          const p2 = p0 + row;
          const p3 = p2 + c;
          let best = 0;
          let m = FLT_MIN;
          let v = x[p0] as number;
          if (v >= m) {
            m = v;
            best = p0;
          }
          v = x[p1] as number;
          if (v >= m) {
            m = v;
            best = p1;
          }
          v = x[p2] as number;
          if (v >= m) {
            m = v;
            best = p2;
          }
          v = x[p3] as number;
          if (v >= m) best = p3;
          // Windows are disjoint and only the first holds offset 0, so each position is written at most once.
          if ((best !== 0 || p0 === 0) && (!mask || (x[best] as number) > 0)) dx[best] = g[o] as number;
        }
      }
    }
  }
}
