/** Faster tfjs-backend-wasm kernels for what training runs most: transposed matMuls and the 2x2 max pool's gradient. */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { maxPool2x2GradInto, type Shape4 } from './max-pool-grad.js';

/** The TensorFlow.js namespace (as backend.ts's TF, restated here because backend.ts imports this file). */
type TF = typeof import('@tensorflow/tfjs');

/** The parts of tfjs-backend-wasm's backend used here (public methods its own kernels call). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/** Marks kernels this module registered, so registering again wraps nothing twice. */
const COHORT_KERNEL = Symbol.for('cohort.wasm-fast-kernel');

/**
 * BatchMatMul and _FusedMatMul with transposeA or transposeB and one batch: the operand is transposed first (the wasm
 * Transpose kernel, one pass over it) and the untransposed product runs, which tfjs-backend-wasm hands to XNNPACK;
 * its own transposed path is a direct loop, 5-10x slower on the dense layers' gradients (x^T·dy, dy·W^T).
 */
function matMulKernel(tf: TF, original: KernelFunc): KernelFunc {
  const transpose = tf.getKernel('Transpose', 'wasm');
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if ((!transposeA && !transposeB) || a.shape.length !== 3 || a.shape[0] !== 1 || b.shape[0] !== 1 || !transpose) return original(args);
    const flip = (x: TensorInfo): TensorInfo => transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm: [0, 2, 1] } }) as TensorInfo;
    const [ta, tb] = [transposeA ? flip(a) : a, transposeB ? flip(b) : b];
    try {
      return original({ ...args, inputs: { ...inputs, a: ta, b: tb }, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of [transposeA ? ta : undefined, transposeB ? tb : undefined])
        if (t) (backend as unknown as WasmBackend).disposeData(t.dataId);
    }
  };
}

/** MaxPoolGrad of a 2x2 stride-2 'valid' pool in one JavaScript pass with the wasm kernel's own tie rules (bit for bit), 3-4x faster; any other pool runs the original. */
function maxPoolGradKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = attrs as {
      filterSize: number | [number, number];
      strides: number | [number, number];
      pad: unknown;
      dimRoundingMode?: string;
    };
    const two = (v: number | [number, number]): boolean => (Array.isArray(v) ? v[0] === 2 && v[1] === 2 : v === 2);
    const [n, h, w, c] = input.shape as Shape4;
    const pooled = dy.shape[0] === n && dy.shape[1] === h >> 1 && dy.shape[2] === w >> 1 && dy.shape[3] === c;
    if (!two(filterSize) || !two(strides) || (pad !== 'valid' && pad !== 0) || dimRoundingMode || !pooled || input.dtype !== 'float32')
      return original(args);
    const heap = backend as unknown as WasmBackend;
    const out = heap.makeOutput([n, h, w, c], 'float32');
    maxPool2x2GradInto(heap.typedArrayFromHeap(input), heap.typedArrayFromHeap(dy), heap.typedArrayFromHeap(out), [n, h, w, c], false);
    return out;
  };
}

/** The kernels replaced, by name, as tfjs-backend-wasm registered them. */
const originals = new Map<string, KernelFunc>();

/**
 * tfjs-backend-wasm's own kernel `name` where registerWasmFastKernels replaced it (tests compare the two), else undefined.
 * @example const own = originalWasmKernel('MaxPoolGrad');
 */
export function originalWasmKernel(name: string): KernelFunc | undefined {
  return originals.get(name);
}

/** Replaces the wasm backend's kernel `name` by `wrap(original)`, once. */
function replace(tf: TF, name: string, wrap: (original: KernelFunc) => KernelFunc): void {
  const config = tf.getKernel(name, 'wasm') as (KernelConfig & { [COHORT_KERNEL]?: boolean }) | undefined;
  if (!config || config[COHORT_KERNEL]) return;
  originals.set(name, config.kernelFunc);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...config, kernelFunc: wrap(config.kernelFunc), [COHORT_KERNEL]: true } as KernelConfig);
}

/**
 * Registers the faster wasm kernels: BatchMatMul and _FusedMatMul with a transposed operand, MaxPoolGrad of 2x2
 * pools. Results equal the original kernels' (the same XNNPACK product on a transposed copy; the same pool rule).
 * Idempotent; call after the wasm backend is set.
 * @example registerWasmFastKernels(tf);
 */
export function registerWasmFastKernels(tf: TF): void {
  replace(tf, 'BatchMatMul', (original) => matMulKernel(tf, original));
  replace(tf, '_FusedMatMul', (original) => matMulKernel(tf, original));
  replace(tf, 'MaxPoolGrad', maxPoolGradKernel);
}
