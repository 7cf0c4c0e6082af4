/** A float64 running sum of weighted float32 tensors (sum += weight * x): FedAvg's hot loop, in WebAssembly SIMD with a plain-JS fallback. */

/** The sums and the one operation on them. */
export interface WeightedSum {
  /** One float64 sum per tensor (views on the kernel's memory, or plain arrays in the fallback). */
  readonly sums: Float64Array[];
  /** Adds `weight * tensors[t]` to `sums[t]` for every tensor; sizes are the caller's to check. */
  add(tensors: Float32Array[], weight: number): void;
  /** Which implementation runs: 'wasm-simd' or 'js'. */
  readonly kind: 'wasm-simd' | 'js';
}

/** Floats copied into the kernel's memory per call: 64 KiB, small enough to stay in L2 while it is summed. */
const STAGE_FLOATS = 16_384;
/** Largest sum the kernel's 32-bit memory holds comfortably; bigger models use the JS loop. */
const MAX_KERNEL_BYTES = 2 ** 31;

/**
 * The kernel, hand-assembled: `a(sumPtr, xPtr, n, w)` does sum[i] += w * f64(x[i]) for n (a multiple of 4)
 * values, two f64x2 lanes at a time (v128.load64_zero, f64x2.promote_low_f32x4, f64x2.mul, f64x2.add).
 * No fused multiply-add, so every sum is bit-identical to the JS loop's. Memory is imported as e.m.
 */
const KERNEL_BODY = [
  0x01,
  0x01,
  0x7b, // one v128 local: the splatted weight
  0x20,
  0x03,
  0xfd,
  0x14,
  0x21,
  0x04, // wv = f64x2.splat(w)
  0x02,
  0x40,
  0x03,
  0x40, // block, loop
  0x20,
  0x02,
  0x41,
  0x04,
  0x49,
  0x0d,
  0x01, // if n < 4: break
  0x20,
  0x00,
  0x20,
  0x00,
  0xfd,
  0x00,
  0x00,
  0x00, // s[0..1] (v128.load)
  0x20,
  0x04,
  0x20,
  0x01,
  0xfd,
  0x5d,
  0x00,
  0x00,
  0xfd,
  0x5f,
  0xfd,
  0xf2,
  0x01,
  0xfd,
  0xf0,
  0x01, // + wv * promote(x[0..1])
  0xfd,
  0x0b,
  0x00,
  0x00, // store s[0..1]
  0x20,
  0x00,
  0x20,
  0x00,
  0xfd,
  0x00,
  0x00,
  0x10, // s[2..3] (offset 16)
  0x20,
  0x04,
  0x20,
  0x01,
  0xfd,
  0x5d,
  0x00,
  0x08,
  0xfd,
  0x5f,
  0xfd,
  0xf2,
  0x01,
  0xfd,
  0xf0,
  0x01, // + wv * promote(x[2..3])
  0xfd,
  0x0b,
  0x00,
  0x10, // store s[2..3]
  0x20,
  0x00,
  0x41,
  0x20,
  0x6a,
  0x21,
  0x00, // s += 32
  0x20,
  0x01,
  0x41,
  0x10,
  0x6a,
  0x21,
  0x01, // x += 16
  0x20,
  0x02,
  0x41,
  0x04,
  0x6b,
  0x21,
  0x02, // n -= 4
  0x0c,
  0x00,
  0x0b,
  0x0b,
  0x0b, // br loop, end loop, end block, end func
];
const KERNEL = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // \0asm, version 1
  0x01,
  0x08,
  0x01,
  0x60,
  0x04,
  0x7f,
  0x7f,
  0x7f,
  0x7c,
  0x00, // type: (i32, i32, i32, f64) -> ()
  0x02,
  0x08,
  0x01,
  0x01,
  0x65,
  0x01,
  0x6d,
  0x02,
  0x00,
  0x00, // import e.m: memory, min 0 pages
  0x03,
  0x02,
  0x01,
  0x00, // one function of type 0
  0x07,
  0x05,
  0x01,
  0x01,
  0x61,
  0x00,
  0x00, // export it as "a"
  0x0a,
  KERNEL_BODY.length + 2,
  0x01,
  KERNEL_BODY.length,
  ...KERNEL_BODY,
]);

/** The part of the WebAssembly JS API used here (the project's TypeScript lib has no DOM types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;
function kernelModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm?.validate(KERNEL) ? new wasm.Module(KERNEL) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** sum[i] += weight * x[i], in plain JS: the fallback, and the tail of a block that is not a multiple of 4. */
function addScaled(sum: Float64Array, x: Float32Array, weight: number, from: number, to: number, offset: number): void {
  for (let i = from; i < to; i++) sum[offset + i] = (sum[offset + i] as number) + weight * (x[i] as number);
}

/**
 * Zeroed float64 sums for tensors of these sizes, with a SIMD kernel when the runtime has WebAssembly SIMD
 * (Node >= 16.4) and the sums fit its memory; otherwise plain Float64Arrays and a JS loop. Both give the
 * same bits. Memory: the sums (8 bytes per parameter) plus a 64 KiB staging block; updates are not kept.
 * @example
 * const ws = createWeightedSum([2]);
 * ws.add([new Float32Array([1, 2])], 3);
 * ws.sums[0]; // Float64Array [3, 6]
 */
export function createWeightedSum(sizes: readonly number[]): WeightedSum {
  const total = sizes.reduce((a, b) => a + b, 0);
  const bytes = total * 8 + STAGE_FLOATS * 4;
  const module = bytes <= MAX_KERNEL_BYTES ? kernelModule() : null;
  let memory: { buffer: ArrayBuffer } | null = null;
  if (module && wasm) {
    try {
      memory = new wasm.Memory({ initial: Math.ceil(bytes / 65_536) });
    } catch {
      memory = null;
    }
  }
  if (!module || !memory || !wasm) {
    const sums = sizes.map((size) => new Float64Array(size));
    return {
      kind: 'js',
      sums,
      add(tensors, weight) {
        sums.forEach((sum, t) => addScaled(sum, tensors[t] as Float32Array, weight, 0, sum.length, 0));
      },
    };
  }
  const kernel = new wasm.Instance(module, { e: { m: memory } }).exports.a as (sum: number, x: number, n: number, w: number) => void;
  const sums: Float64Array[] = [];
  let at = 0;
  for (const size of sizes) {
    sums.push(new Float64Array(memory.buffer, at, size));
    at += size * 8;
  }
  const stageAt = at;
  const stage = new Float32Array(memory.buffer, stageAt, STAGE_FLOATS);
  return {
    kind: 'wasm-simd',
    sums,
    add(tensors, weight) {
      sums.forEach((sum, t) => {
        const x = tensors[t] as Float32Array;
        for (let from = 0; from < x.length; from += STAGE_FLOATS) {
          const n = Math.min(STAGE_FLOATS, x.length - from);
          stage.set(x.subarray(from, from + n));
          const whole = n & ~3;
          kernel(sum.byteOffset + from * 8, stageAt, whole, weight);
          addScaled(sum, stage, weight, whole, n, from);
        }
      });
    },
  };
}
