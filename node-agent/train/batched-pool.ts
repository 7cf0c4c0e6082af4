/** The gradient of a 2x2 stride-2 'valid' max pool, computed in JavaScript exactly as tfjs-backend-wasm's MaxPoolGrad. */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { maxPool2x2GradInto, type Shape4 } from './max-pool-grad.js';
import { heapTensor, heapView, onWasmHeap } from './wasm-heap.js';

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
