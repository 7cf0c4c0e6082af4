/** Direct access to tfjs-backend-wasm's tensor memory, for the batched trainer's JavaScript passes (no copy in or out). */
import type { Tensor, TensorInfo } from '@tensorflow/tfjs';

/** The TensorFlow.js namespace (as backend.ts's TF, restated here because backend.ts's kernels import this file). */
type TF = typeof import('@tensorflow/tfjs');

/** The parts of tfjs-backend-wasm 4.x's BackendWasm that Cohort's kernels and passes use (public methods its own kernels call). */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/** True when tensors live in the wasm heap, so heapView and heapTensor apply. */
export function onWasmHeap(tf: TF): boolean {
  const backend = tf.backend() as unknown as Partial<WasmBackend>;
  return tf.getBackend() === 'wasm' && typeof backend.makeOutput === 'function' && typeof backend.typedArrayFromHeap === 'function';
}

/**
 * A float32 view of a tensor's memory in the wasm heap, valid until the next allocation (which may grow the heap and
 * detach it): take views after allocating every output. Read it, do not write it (tensors are immutable).
 * @example const x = heapView(tf, input); // Float32Array over input's values
 */
export function heapView(tf: TF, t: Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`heapView: tensor is ${t.dtype}, float32 expected`);
  return (tf.backend() as unknown as WasmBackend).typedArrayFromHeap(t);
}

/**
 * A new float32 tensor allocated in the wasm heap (contents undefined: write every value), tracked by tf.tidy as
 * any other; `fill` receives its view once allocated.
 * @example const out = heapTensor(tf, [2, 3], (v) => v.fill(0));
 */
export function heapTensor(tf: TF, shape: number[], fill: (out: Float32Array) => void): Tensor {
  const backend = tf.backend() as unknown as WasmBackend;
  const info = backend.makeOutput(shape, 'float32');
  fill(backend.typedArrayFromHeap(info));
  return tf.engine().makeTensorFromTensorInfo(info) as Tensor;
}
