/** A big dense layer's three products in the batched step by Cohort's wasm SIMD kernels, reading the kernel where it lies. */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { heapTensor, heapView, onWasmHeap } from './wasm-heap.js';
import { simdKernels, type DenseSizes, type SimdKernels } from './wasm-simd.js';

/** The SIMD kernels and the layer's sizes when they can run the products of `kernel` [inUnits, units] on `rows` rows, else undefined. */
function usable(tf: TF, kernel: Tensor2D, rows: number): { simd: SimdKernels; sizes: DenseSizes } | undefined {
  const [inUnits, units] = kernel.shape;
  if (units % 16 !== 0 || inUnits % 4 !== 0 || kernel.dtype !== 'float32' || !onWasmHeap(tf)) return undefined;
  const simd = simdKernels(tf.backend());
  return simd ? { simd, sizes: { rows, inUnits, units } } : undefined;
}

/**
 * h · kernel (h [rows, inUnits]) with the kernel read in place: no transposed copy of it (~1.2 ms for the CNN's
 * 3136x512 on this machine) and no XNNPACK packing. Equal to tfjs's product bit for bit (each sum in the same order).
 * Undefined where the SIMD kernels cannot run (then use tf.matMul).
 * @example const z = denseForwardSimd(tf, h, kernel) ?? tf.matMul(h, kernel);
 */
export function denseForwardSimd(tf: TF, h: Tensor2D, kernel: Tensor2D): Tensor | undefined {
  const use = usable(tf, kernel, h.shape[0]);
  if (!use || h.shape[1] !== kernel.shape[0]) return undefined;
  return heapTensor(tf, [h.shape[0], kernel.shape[1]], (z) => use.simd.denseForward(heapView(tf, h), heapView(tf, kernel), z, use.sizes));
}

/**
 * dz · kernelᵀ (dz [rows, units]): the layer's input gradient, without a transposed copy of dz or a transposed product.
 * Equal to tfjs's to float32 rounding (each sum is kept in four lanes, added at the end). Undefined where the SIMD kernels cannot run.
 * @example const dx = denseInputGradSimd(tf, dz, kernel) ?? tf.matMul(dz, kernel, false, true);
 */
export function denseInputGradSimd(tf: TF, dz: Tensor2D, kernel: Tensor2D): Tensor | undefined {
  const use = usable(tf, kernel, dz.shape[0]);
  if (!use || dz.shape[1] !== kernel.shape[1]) return undefined;
  return heapTensor(tf, [dz.shape[0], kernel.shape[0]], (dx) =>
    use.simd.denseInputGrad(heapView(tf, dz), heapView(tf, kernel), dx, use.sizes),
  );
}

/**
 * kernel + inputᵀ · scaled (scaled = −lr · dL/dz, [rows, units]): the SGD step of the kernel in one pass over it, equal
 * bit for bit to tfjs's product followed by Add. Undefined where the SIMD kernels cannot run.
 * @example const next = denseUpdateSimd(tf, kernel, input, scaled) ?? tf.add(tf.matMul(input, scaled, true), kernel);
 */
export function denseUpdateSimd(tf: TF, kernel: Tensor2D, input: Tensor2D, scaled: Tensor2D): Tensor | undefined {
  const use = usable(tf, kernel, input.shape[0]);
  if (!use || input.shape[1] !== kernel.shape[0] || scaled.shape[0] !== input.shape[0] || scaled.shape[1] !== kernel.shape[1])
    return undefined;
  return heapTensor(tf, [...kernel.shape], (out) =>
    use.simd.denseUpdate(heapView(tf, kernel), heapView(tf, input), heapView(tf, scaled), out, use.sizes),
  );
}
