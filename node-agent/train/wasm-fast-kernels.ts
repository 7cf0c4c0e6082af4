/** Faster tfjs-backend-wasm kernels for what training runs most: transposed matMuls and the 2x2 max pool's gradient. */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { Shape4 } from './max-pool-grad.js';
import type { WasmBackend } from './wasm-heap.js';
import { maxPool2x2GradPass, simdKernels } from './wasm-simd.js';

/** The TensorFlow.js namespace (as backend.ts's TF, restated here because backend.ts imports this file). */
type TF = typeof import('@tensorflow/tfjs');

/** Marks kernels this module registered, so registering again wraps nothing twice. */
const COHORT_KERNEL = Symbol.for('cohort.wasm-fast-kernel');

/** Right operands at least this big are packed by XNNPACK at a cost several times a transpose of them. */
const PACKED_LIMIT = 1 << 16;
/** The transposed route pays when B is at least this many times A (A^T is then what XNNPACK packs). */
const B_OVER_A = 8;

/**
 * A·B (B big and new, so XNNPACK would pack it) or A·Bᵀ (a dense layer's input gradient, dy·Kᵀ) of rank 2 by Cohort's
 * SIMD kernels, which read B where it lies (wasm-simd.ts: A·B equal to XNNPACK's product bit for bit, A·Bᵀ to float
 * rounding); undefined where they cannot run or the sizes do not fit them (then the transposed route runs).
 */
function simdProduct(backend: unknown, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo | undefined {
  if (transposeA || a.shape.length !== 2 || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  const heap = backend as WasmBackend;
  const [rows, inner] = a.shape as [number, number];
  const outer = (transposeB ? b.shape[0] : b.shape[1]) as number;
  const fits = transposeB ? inner % 4 === 0 && outer % 4 === 0 : outer % 16 === 0;
  if (!fits) return undefined;
  const out = heap.makeOutput([rows, outer], 'float32');
  const [av, bv, ov] = [heap.typedArrayFromHeap(a), heap.typedArrayFromHeap(b), heap.typedArrayFromHeap(out)];
  if (transposeB) simd.denseInputGrad(av, bv, ov, { rows, inUnits: outer, units: inner });
  else simd.denseForward(av, bv, ov, { rows, inUnits: inner, units: outer });
  return out;
}

/**
 * BatchMatMul and _FusedMatMul of one batch (rank 2, or rank 3 with batch 1), always run as an untransposed product,
 * the only form tfjs-backend-wasm hands to XNNPACK (its transposed path is a direct loop, 5-10x slower on the dense
 * layers' gradients x^T·dy and dy·W^T). Of C = A·B (either stored transposed) it computes either C directly, the
 * transposed operands copied first, or, for a B big and many times A, met for the first time (a layer's kernel, new
 * every training step: XNNPACK packs and caches a right operand on first use, which costs several transposes of it,
 * ~6 ms for the CNN's 3136x512 against ~1.6 ms), Cohort's SIMD product that reads B in place (simdProduct), or where
 * that does not fit, C = (B^T·A^T)^T with B on the left, where nothing big is packed (a B stored transposed is then
 * not even copied). _FusedMatMul's bias and linear/relu activation are then applied by the backend's Add and Relu kernels;
 * other activations run the original kernel.
 */
function matMulKernel(tf: TF, original: KernelFunc, plain: KernelFunc): KernelFunc {
  const kernel = (name: string): KernelFunc => {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`the wasm backend has no '${name}' kernel, needed by Cohort's matMul`);
    return config.kernelFunc;
  };
  const [transpose, add, relu] = [kernel('Transpose'), kernel('Add'), kernel('Relu')];
  const seen = new WeakSet<object>(); // B operands met before: used again (fixed weights), the original's packed copy pays
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined> & { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB, activation } = attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    const rank = a.shape.length;
    if (rank < 2 || rank > 3 || b.shape.length !== rank || (rank === 3 && (a.shape[0] !== 1 || b.shape[0] !== 1))) return original(args);
    const temporaries: TensorInfo[] = [];
    const perm = rank === 2 ? [1, 0] : [0, 2, 1];
    const flip = (x: TensorInfo): TensorInfo => {
      const out = transpose({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
      temporaries.push(out);
      return out;
    };
    const untransposed = { transposeA: false, transposeB: false };
    try {
      const sizeB = tf.util.sizeFromShape(b.shape);
      const big = sizeB >= PACKED_LIMIT && sizeB >= B_OVER_A * tf.util.sizeFromShape(a.shape);
      const simple = !preluActivationWeights && (activation === undefined || activation === 'linear' || activation === 'relu');
      const again = seen.has(b.dataId);
      seen.add(b.dataId);
      if (!big || (again && !transposeB) || !simple) {
        if (!transposeA && !transposeB) return original(args);
        const direct = { a: transposeA ? flip(a) : a, b: transposeB ? flip(b) : b };
        return original({ ...args, inputs: { ...inputs, ...direct }, attrs: { ...attrs, ...untransposed } });
      }
      let out: TensorInfo =
        simdProduct(backend, a, b, transposeA, transposeB) ??
        (() => {
          const productT = plain({
            inputs: { a: transposeB ? b : flip(b), b: transposeA ? a : flip(a) },
            backend,
            attrs: untransposed,
          }) as TensorInfo;
          temporaries.push(productT);
          return transpose({ inputs: { x: productT }, backend, attrs: { perm } }) as TensorInfo;
        })();
      const then = (next: TensorInfo): void => {
        temporaries.push(out);
        out = next;
      };
      if (bias) then(add({ inputs: { a: out, b: bias }, backend, attrs: {} }) as TensorInfo);
      if (activation === 'relu') then(relu({ inputs: { x: out }, backend, attrs: {} }) as TensorInfo);
      return out;
    } finally {
      for (const t of temporaries) (backend as unknown as WasmBackend).disposeData(t.dataId);
    }
  };
}

/**
 * MaxPoolGrad of a 2x2 stride-2 'valid' pool in one pass with the wasm kernel's own tie rules (bit for bit): Cohort's
 * SIMD kernel (wasm-simd.ts) where the channels are a multiple of 4, else JavaScript, 40-60x and 3-4x faster than the
 * original; any other pool runs the original.
 */
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
    maxPool2x2GradPass(
      backend,
      heap.typedArrayFromHeap(input),
      heap.typedArrayFromHeap(dy),
      heap.typedArrayFromHeap(out),
      [n, h, w, c],
      false,
    );
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
 * pools. Results equal the original kernels' (the same XNNPACK product on a transposed copy, or Cohort's SIMD product
 * with the same order of sums; the same pool rule), except A·Bᵀ by the SIMD product, equal to float rounding.
 * Idempotent; call after the wasm backend is set.
 * @example registerWasmFastKernels(tf);
 */
export function registerWasmFastKernels(tf: TF): void {
  replace(tf, 'BatchMatMul', (original) => matMulKernel(tf, original, original));
  const plain = originals.get('BatchMatMul');
  if (plain) replace(tf, '_FusedMatMul', (original) => matMulKernel(tf, original, plain));
  replace(tf, 'MaxPoolGrad', maxPoolGradKernel);
}
