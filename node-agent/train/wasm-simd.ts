/** Cohort's wasm SIMD kernels (wasm-simd.wat), run on tfjs-backend-wasm's own heap: the 2x2 max-pool gradient, im2col, a dense layer's products. */
import { maxPool2x2GradInto, type Shape4 } from './max-pool-grad.js';
import { WASM_SIMD_BASE64 } from './wasm-simd-binary.js';

/** tfjs-backend-wasm's running max starts at FLT_MIN (as max-pool-grad.ts). */
const FLT_MIN = 1.1754943508222875e-38;

/** What wasm-simd.wat exports; pointers are byte offsets into the heap. */
interface Exports {
  maxPool2x2Grad(x: number, g: number, dx: number, n: number, h: number, w: number, c: number, mask: number, sums: number): void;
  im2col(...args: number[]): void;
  denseForward(h: number, k: number, z: number, rows: number, inUnits: number, units: number): void;
  denseInputGrad(dz: number, k: number, dx: number, rows: number, inUnits: number, units: number): void;
  denseUpdate(k: number, h: number, s: number, out: number, rows: number, inUnits: number, units: number): void;
  convFilterGrad(...args: number[]): void;
}

/** The patches of a stride-1 conv: NHWC input `shape`, kernel kh x kw, output oh x ow, padding `top`/`left` before. */
export interface PatchGeometry {
  shape: Shape4;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  top: number;
  left: number;
}

/** A dense layer's sizes: `rows` of the batch, `inUnits` inputs, `units` outputs (its kernel is [inUnits, units], row-major). */
export interface DenseSizes {
  rows: number;
  inUnits: number;
  units: number;
}

/** The kernels, for Float32Array views over the heap they were bound to (wasm-heap.ts's heapView and heapTensor give those). */
export interface SimdKernels {
  /**
   * maxPool2x2GradInto's pass (max-pool-grad.ts: same arguments and result, bit for bit), four channels per SIMD
   * step; `sums` is a heap view of one float32 per channel that the passed values are added to (float32, in window
   * order). Returns false, writing nothing, when the channels are not a multiple of 4.
   */
  maxPool2x2Grad(x: Float32Array, g: Float32Array, dx: Float32Array, shape: Shape4, mask: boolean, sums?: Float32Array): boolean;
  /** The patches of a stride-1 conv of NHWC `x`: out [kh·kw·ci, n·oh·ow], 0 outside x (`top`/`left`: the padding before). */
  im2col(x: Float32Array, out: Float32Array, patch: PatchGeometry): void;
  /**
   * z = h · k (h [rows, inUnits], k [inUnits, units]) with k read where it lies, not transposed or packed; each output
   * summed over the inputs in order. False, writing nothing, unless units is a multiple of 16.
   */
  denseForward(h: Float32Array, k: Float32Array, z: Float32Array, sizes: DenseSizes): boolean;
  /** dx = dz · kᵀ (dz [rows, units]): a dense layer's input gradient. False, writing nothing, unless inUnits and units are multiples of 4. */
  denseInputGrad(dz: Float32Array, k: Float32Array, dx: Float32Array, sizes: DenseSizes): boolean;
  /**
   * out = hᵀ · s + k (s [rows, units]): the SGD step of a dense kernel with s = −lr · dL/dz, in one pass over k, each
   * product summed over the rows in order before k is added. False, writing nothing, unless units is a multiple of 16.
   */
  denseUpdate(k: Float32Array, h: Float32Array, s: Float32Array, out: Float32Array, sizes: DenseSizes): boolean;
  /**
   * The filter gradient of a stride-1 conv: dw [kh, kw, ci, co] from NHWC x [n, h, w, ci] and dz [n, oh, ow, co]
   * (`top`/`left`: the padding before), each sum over batch, rows and columns in order, padding skipped. False,
   * writing nothing, unless ci is a multiple of 2 and co of 16.
   */
  convFilterGrad(
    x: Float32Array,
    dz: Float32Array,
    dw: Float32Array,
    xShape: Shape4,
    dzShape: Shape4,
    kh: number,
    kw: number,
    top: number,
    left: number,
  ): boolean;
}

/** The parts of the WebAssembly JS API used here (this project's TypeScript libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null | undefined;
const bound = new WeakMap<WasmMemory, SimdKernels | undefined>();

/** The compiled module, or null where this runtime lacks wasm SIMD (then every caller keeps its JavaScript pass). */
function simdModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = new wasm.Module(Buffer.from(WASM_SIMD_BASE64, 'base64'));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** tfjs-backend-wasm 4.x's heap: its emscripten module's exported memory (the memory its typedArrayFromHeap views). */
function heapMemory(backend: unknown): WasmMemory | undefined {
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } } | undefined)?.wasm?.asm?.memory;
  return memory instanceof wasm.Memory ? memory : undefined;
}

/** The byte offset of a view in `memory`, checking that it is a view of that heap. */
function at(memory: WasmMemory, view: Float32Array): number {
  if (view.buffer !== memory.buffer) throw new Error("Cohort's wasm SIMD kernels: a view is not over the wasm backend's current heap");
  return view.byteOffset;
}

/** Throws unless each view holds at least the values the kernel reads or writes there (view, length pairs): nothing outside a tensor is touched. */
function sized(...pairs: (Float32Array | number)[]): void {
  for (let i = 0; i < pairs.length; i += 2)
    if ((pairs[i] as Float32Array).length < (pairs[i + 1] as number))
      throw new Error(
        `Cohort's wasm SIMD kernel: operand ${i / 2} has ${(pairs[i] as Float32Array).length} values, ${String(pairs[i + 1])} needed`,
      );
}

/** Binds the module to a heap. */
function bind(memory: WasmMemory, module: object): SimdKernels {
  const k = new wasm.Instance(module, { env: { memory } }).exports as unknown as Exports;
  return {
    maxPool2x2Grad(x, g, dx, shape, mask, sums) {
      const [n, h, w, c] = shape;
      if (c % 4 !== 0) return false;
      sized(x, n * h * w * c, g, n * (h >> 1) * (w >> 1) * c, dx, n * h * w * c);
      if (sums) sized(sums, c);
      k.maxPool2x2Grad(at(memory, x), at(memory, g), at(memory, dx), n, h, w, c, mask ? 1 : 0, sums ? at(memory, sums) : 0);
      // max-pool-grad.ts's rule for a window with no value >= FLT_MIN: only the very first window, through offset 0.
      const row = w * c;
      const [x0, x1, x2, x3] = [x[0], x[c], x[row], x[row + c]] as number[];
      const none = !((x0 as number) >= FLT_MIN || (x1 as number) >= FLT_MIN || (x2 as number) >= FLT_MIN || (x3 as number) >= FLT_MIN);
      if (n > 0 && h > 1 && w > 1 && none && (!mask || (x0 as number) > 0)) {
        dx[0] = g[0] as number;
        if (sums) sums[0] = (sums[0] as number) + (g[0] as number);
      }
      return true;
    },
    im2col(x, out, { shape, kh, kw, oh, ow, top, left }) {
      const [n, h, w, ci] = shape;
      sized(x, n * h * w * ci, out, kh * kw * ci * n * oh * ow);
      k.im2col(at(memory, x), at(memory, out), n, h, w, ci, kh, kw, oh, ow, top, left);
    },
    denseForward(h, kernel, z, { rows, inUnits, units }) {
      if (units % 16 !== 0) return false;
      sized(h, rows * inUnits, kernel, inUnits * units, z, rows * units);
      k.denseForward(at(memory, h), at(memory, kernel), at(memory, z), rows, inUnits, units);
      return true;
    },
    denseInputGrad(dz, kernel, dx, { rows, inUnits, units }) {
      if (units % 4 !== 0 || inUnits % 4 !== 0) return false;
      sized(dz, rows * units, kernel, inUnits * units, dx, rows * inUnits);
      k.denseInputGrad(at(memory, dz), at(memory, kernel), at(memory, dx), rows, inUnits, units);
      return true;
    },
    denseUpdate(kernel, h, s, out, { rows, inUnits, units }) {
      if (units % 16 !== 0) return false;
      sized(h, rows * inUnits, s, rows * units, out, inUnits * units, kernel, inUnits * units);
      k.denseUpdate(at(memory, kernel), at(memory, h), at(memory, s), at(memory, out), rows, inUnits, units);
      return true;
    },
    convFilterGrad(x, dz, dw, xShape, dzShape, kh, kw, top, left) {
      const [n, h, w, ci] = xShape;
      const [dn, oh, ow, co] = dzShape;
      if (ci % 2 !== 0 || co % 16 !== 0) return false;
      if (dn !== n) throw new Error(`convFilterGrad: x has batch ${n}, dz ${dn}`);
      sized(x, n * h * w * ci, dz, n * oh * ow * co, dw, kh * kw * ci * co);
      k.convFilterGrad(at(memory, x), at(memory, dz), at(memory, dw), n, h, w, ci, oh, ow, co, kh, kw, top, left);
      return true;
    },
  };
}

/**
 * Cohort's SIMD kernels bound to a tfjs-backend-wasm backend's heap, or undefined where they cannot run (not the wasm
 * backend, a tfjs-backend-wasm whose heap is not reachable, a runtime without wasm SIMD): callers then run their
 * JavaScript pass, which gives the same results.
 * @example const simd = simdKernels(tf.backend()); if (simd?.maxPool2x2Grad(x, g, dx, shape, true)) return;
 */
export function simdKernels(backend: unknown): SimdKernels | undefined {
  const memory = heapMemory(backend);
  const module = memory ? simdModule() : null;
  if (!memory || !module) return undefined;
  if (!bound.has(memory)) {
    let kernels: SimdKernels | undefined;
    try {
      kernels = bind(memory, module);
    } catch {
      kernels = undefined; // a heap the module cannot import (a shared, threaded build's): keep the JavaScript paths
    }
    bound.set(memory, kernels);
  }
  return bound.get(memory);
}

/**
 * maxPool2x2GradInto's pass over views of a backend's heap: Cohort's SIMD kernel where it runs, else the JavaScript
 * pass (its channel sums in float64, rounded once into `sums`). Same dx bit for bit either way.
 * @example maxPool2x2GradPass(tf.backend(), x, g, dx, [10, 28, 28, 32], true);
 */
export function maxPool2x2GradPass(
  backend: unknown,
  x: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  shape: Shape4,
  mask: boolean,
  sums?: Float32Array,
): void {
  if (simdKernels(backend)?.maxPool2x2Grad(x, g, dx, shape, mask, sums)) return;
  const wide = sums ? new Float64Array(sums.length) : undefined;
  maxPool2x2GradInto(x, g, dx, shape, mask, wide);
  if (sums && wide) sums.set(wide);
}
