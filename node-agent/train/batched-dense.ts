/** A big dense layer's SGD step in the batched trainer by Cohort's wasm SIMD kernel, in one pass over the kernel. */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { heapTensor, heapView, onWasmHeap } from './wasm-heap.js';
import { simdKernels } from './wasm-simd.js';

/**
 * kernel + inputᵀ · scaled (scaled = −lr · dL/dz, [rows, units]): the SGD step of a dense kernel [inUnits, units] in
 * one pass over it, equal bit for bit to tfjs's product followed by Add (~1.1 ms against ~1.8 for the CNN's
 * 3136x512). Undefined where the SIMD kernels cannot run or units is not a multiple of 16 (then use tfjs).
 * (The layer's forward product and input gradient need nothing here: tf.matMul reaches the same SIMD kernels through
 * Cohort's wasm BatchMatMul, wasm-fast-kernels.ts.)
 * @example const next = denseUpdateSimd(tf, kernel, input, scaled) ?? tf.add(tf.matMul(input, scaled, true), kernel);
 */
export function denseUpdateSimd(tf: TF, kernel: Tensor2D, input: Tensor2D, scaled: Tensor2D): Tensor | undefined {
  const [inUnits, units] = kernel.shape;
  const rows = input.shape[0];
  if (units % 16 !== 0 || kernel.dtype !== 'float32' || !onWasmHeap(tf)) return undefined;
  if (input.shape[1] !== inUnits || scaled.shape[0] !== rows || scaled.shape[1] !== units) return undefined;
  const simd = simdKernels(tf.backend());
  if (!simd) return undefined;
  return heapTensor(tf, [inUnits, units], (out) =>
    simd.denseUpdate(heapView(tf, kernel), heapView(tf, input), heapView(tf, scaled), out, { rows, inUnits, units }),
  );
}
