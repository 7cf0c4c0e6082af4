/** The Conv2D filter-gradient kernel tfjs-backend-wasm lacks and a faster input-gradient kernel, each a forward convolution that XNNPACK runs fast. */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { Shape4 } from './max-pool-grad.js';
import type { WasmBackend } from './wasm-heap.js';
import { simdKernels, type PatchGeometry } from './wasm-simd.js';

/** The TensorFlow.js namespace (as backend.ts's TF, restated here because backend.ts imports this file). */
type TF = typeof import('@tensorflow/tfjs');
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type Run = (kernel: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => TensorInfo;

/**
 * The gradient kernels a conv net's backward pass needs beyond the dense ones. tfjs-backend-wasm 4.22 has
 * all but Conv2DBackpropFilter, which this module registers.
 */
export const WASM_CONV_GRAD_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'AvgPoolGrad'] as const;

/** A helper that runs the backend's own kernels directly and disposes intermediates it is told about. */
function runner(tf: TF, backend: Pick<WasmBackend, 'disposeData'>): { run: Run; drop: (...infos: TensorInfo[]) => void } {
  const run: Run = (kernel, inputs, attrs) => {
    const config = tf.getKernel(kernel, 'wasm');
    if (!config) throw new Error(`the wasm backend has no '${kernel}' kernel, needed by Cohort's conv gradient kernels`);
    return config.kernelFunc({ inputs, attrs, backend: backend as never }) as TensorInfo;
  };
  const drop = (...infos: TensorInfo[]): void => {
    for (const info of infos) backend.disposeData(info.dataId);
  };
  return { run, drop };
}

/**
 * Pads (positive amounts) or crops (negative amounts) rows and columns of an NHWC tensor: crops are
 * done here with Slice, pads are returned for the convolution to apply. The input is not disposed.
 */
function cropForPads(run: Run, x: TensorInfo, pads: [number, number, number, number]): { x: TensorInfo; pad: Pad; cropped: boolean } {
  const [top, bottom, left, right] = pads;
  const [n, h, w, c] = x.shape as Shape4;
  const pad: Pad = [
    [0, 0],
    [Math.max(top, 0), Math.max(bottom, 0)],
    [Math.max(left, 0), Math.max(right, 0)],
    [0, 0],
  ];
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return { x, pad, cropped: false };
  const begin = [0, Math.max(-top, 0), Math.max(-left, 0), 0];
  const size = [n, h - begin[1]! - Math.max(-bottom, 0), w - begin[2]! - Math.max(-right, 0), c];
  return { x: run('Slice', { x }, { begin, size }), pad, cropped: true };
}

/** The shape facts every conv gradient needs, from tfjs's own conv bookkeeping; throws on what these kernels cannot do. */
function convInfo(tf: TF, kernel: string, xShape: Shape4, filterShape: Shape4, attrs: NamedAttrMap) {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (dataFormat === 'NCHW') throw new Error(`${kernel} on wasm (Cohort kernel): dataFormat NCHW is not supported, use NHWC`);
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad as never, dimRoundingMode, false, 'channelsLast');
}

/** Stride-1 filter gradients whose patch (kernel height x width x input channels) is at most this go by im2col. */
const IM2COL_PATCH = 64;

/** wasm-simd.ts's im2col in JavaScript (where the SIMD kernels cannot run): out [kh·kw·ci, n·oh·ow], 0 outside x. */
function im2colInto(xv: Float32Array, out: Float32Array, { shape, kh, kw, oh, ow, top, left }: PatchGeometry): void {
  const [n, h, w, ci] = shape;
  const rows = n * oh * ow;
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++)
      for (let c = 0; c < ci; c++) {
        let o = ((a * kw + b) * ci + c) * rows;
        for (let m = 0; m < n; m++)
          for (let i = 0; i < oh; i++) {
            const si = i + a - top;
            const inside = si >= 0 && si < h;
            for (let j = 0; j < ow; j++, o++) {
              const sj = j + b - left;
              out[o] = inside && sj >= 0 && sj < w ? (xv[((m * h + si) * w + sj) * ci + c] as number) : 0;
            }
          }
      }
}

/**
 * The stride-1 filter gradient as one product of im2col patches, built on the wasm heap (Cohort's SIMD module, else
 * JavaScript), by dy:
 * [kh·kw·ci, rows] x [rows, co]. XNNPACK's convolution runs the other route's shape for few input channels (a conv
 * net's first layer: tiny M, huge K) slowly: on the MNIST CNN's first layer ~0.9 ms against ~2.1 ms.
 */
function im2colFilterGrad(
  run: Run,
  drop: (...infos: TensorInfo[]) => void,
  heap: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  top: number,
  left: number,
  filterShape: Shape4,
): TensorInfo {
  const [n, h, w, ci] = x.shape as Shape4;
  const [, oh, ow, co] = dy.shape as Shape4;
  const [kh, kw] = filterShape;
  const [patch, rows] = [kh * kw * ci, n * oh * ow];
  const patches = heap.makeOutput([patch, rows], 'float32');
  const [xv, out] = [heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(patches)];
  const simd = simdKernels(heap);
  const geometry: PatchGeometry = { shape: [n, h, w, ci], kh, kw, oh, ow, top, left };
  if (simd) simd.im2col(xv, out, geometry);
  else im2colInto(xv, out, geometry);
  const dy2 = run('Reshape', { x: dy }, { shape: [rows, co] });
  const product = run('BatchMatMul', { a: patches, b: dy2 }, { transposeA: false, transposeB: false });
  drop(patches, dy2);
  const dw = run('Reshape', { x: product }, { shape: filterShape });
  drop(product);
  return dw;
}

/**
 * dW[kh,kw,ci,co] = sum over b,oh,ow of x[b, oh*s+kh-top, ow*s+kw-left, ci] * dy[b,oh,ow,co]: im2col for stride 1 and
 * few input channels (im2colFilterGrad), Cohort's SIMD loop for stride 1 with an even ci and co a multiple of 16
 * (wasm-simd.ts: ~7.0 ms against ~8.1 ms for the MNIST CNN's second conv at batch 10), else a forward
 * convolution of x with channels and batch swapped ([ci,h,w,b]) by dy as a filter ([oh,ow,b,co]) with
 * dilation = the stride, giving [ci,kh,kw,co], transposed back to [kh,kw,ci,co].
 */
function filterGradKernel(tf: TF): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    if (!attrs) throw new Error('Conv2DBackpropFilter on wasm (Cohort kernel): called without attributes');
    const filterShape = (attrs as { filterShape: Shape4 }).filterShape;
    const info = convInfo(tf, 'Conv2DBackpropFilter', x.shape as Shape4, filterShape, attrs);
    const { run, drop } = runner(tf, backend as unknown as WasmBackend);
    const { inHeight, inWidth, filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
    const [, outHeight, outWidth] = dy.shape as Shape4; // dy's own: tfjs-core's conv gradients drop dimRoundingMode
    const heap = backend as unknown as WasmBackend;
    if (strideHeight === 1 && strideWidth === 1 && filterShape[0] * filterShape[1] * filterShape[2] <= IM2COL_PATCH)
      return im2colFilterGrad(run, drop, heap, x, dy, padInfo.top, padInfo.left, filterShape);
    const simd = strideHeight === 1 && strideWidth === 1 ? simdKernels(heap) : undefined;
    if (simd) {
      // Cohort's SIMD loop over the batch, rows and columns (wasm-simd.ts), where it takes the channel counts.
      const dw = heap.makeOutput([...filterShape], 'float32');
      const [xv, dyv, dwv] = [heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(dy), heap.typedArrayFromHeap(dw)];
      if (
        simd.convFilterGrad(xv, dyv, dwv, x.shape as Shape4, dy.shape as Shape4, filterShape[0], filterShape[1], padInfo.top, padInfo.left)
      )
        return dw;
      drop(dw);
    }
    const bottom = filterHeight + (outHeight - 1) * strideHeight - inHeight - padInfo.top;
    const right = filterWidth + (outWidth - 1) * strideWidth - inWidth - padInfo.left;
    const xt = run('Transpose', { x }, { perm: [3, 1, 2, 0] });
    const dyt = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
    const c = cropForPads(run, xt, [padInfo.top, bottom, padInfo.left, right]);
    const conv = run('Conv2D', { x: c.x, filter: dyt }, {
      strides: 1,
      pad: c.pad,
      dilations: [strideHeight, strideWidth],
      dataFormat: 'NHWC',
    } as never);
    drop(xt, dyt, ...(c.cropped ? [c.x] : []));
    const dw = run('Transpose', { x: conv }, { perm: [1, 2, 0, 3] });
    drop(conv);
    return dw;
  };
}

/** A new [kh, kw, co, ci] filter: `filter` [kh, kw, ci, co] flipped in both spatial axes with its channels swapped. */
function flippedFilter(backend: WasmBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as Shape4;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const [k, f] = [backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(out)];
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++) {
      const from = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
      const to = (a * kw + b) * co * ci;
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) f[to + o * ci + i] = k[from + i * co + o] as number;
    }
  return out;
}

/** dy [n, oh, ow, c] spread to [n, (oh-1)·sh+1, (ow-1)·sw+1, c] with zeros between its rows and columns. */
function spread(backend: WasmBackend, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  const [n, oh, ow, c] = dy.shape as Shape4;
  const [h, w] = [(oh - 1) * sh + 1, (ow - 1) * sw + 1];
  const out = backend.makeOutput([n, h, w, c], 'float32');
  const [src, dst] = [backend.typedArrayFromHeap(dy), backend.typedArrayFromHeap(out)];
  dst.fill(0);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const from = ((b * oh + i) * ow + j) * c;
        dst.set(src.subarray(from, from + c), ((b * h + i * sh) * w + j * sw) * c);
      }
  return out;
}

/**
 * dx[b,i,j,ci] = sum over kh,kw,co of dy↑[b, i+kh-top', j+kw-left', co] · W[KH-1-kh, KW-1-kw, ci, co]: a forward
 * 'stride 1' convolution of dy (spread by the stride with zeros) by the filter flipped in space with its channels
 * swapped, padded (or cropped) so the output has the input's height and width. tfjs-backend-wasm's own
 * Conv2DBackpropInput is a direct loop, 6-9x slower than XNNPACK running this convolution (MNIST CNN's second
 * layer: ~70 ms against ~8.5 ms at batch 10). NCHW goes to the original kernel.
 */
function inputGradKernel(tf: TF, original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    if (!attrs) throw new Error('Conv2DBackpropInput on wasm (Cohort kernel): called without attributes');
    if ((attrs as { dataFormat?: string }).dataFormat === 'NCHW') return original(args);
    const inputShape = (attrs as { inputShape: Shape4 }).inputShape;
    const info = convInfo(tf, 'Conv2DBackpropInput', inputShape, filter.shape as Shape4, attrs);
    const heap = backend as unknown as WasmBackend;
    const { run, drop } = runner(tf, heap);
    const { inHeight, inWidth, filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
    const [, outHeight, outWidth] = dy.shape as Shape4; // dy's own, as the filter gradient's
    const spreadOut = strideHeight > 1 || strideWidth > 1;
    const up = spreadOut ? spread(heap, dy, strideHeight, strideWidth) : dy;
    const [h, w] = [(outHeight - 1) * strideHeight + 1, (outWidth - 1) * strideWidth + 1];
    const [top, left] = [filterHeight - 1 - padInfo.top, filterWidth - 1 - padInfo.left];
    const c = cropForPads(run, up, [top, inHeight + filterHeight - 1 - h - top, left, inWidth + filterWidth - 1 - w - left]);
    const flipped = flippedFilter(heap, filter);
    const dx = run('Conv2D', { x: c.x, filter: flipped }, { strides: 1, pad: c.pad, dilations: 1, dataFormat: 'NHWC' } as never);
    drop(flipped, ...(c.cropped ? [c.x] : []), ...(spreadOut ? [up] : []));
    return dx;
  };
}

/** Marks the Conv2DBackpropInput kernel this module registered, so registering again changes nothing. */
const COHORT_KERNEL = Symbol.for('cohort.wasm-conv-input-grad');

/**
 * Registers Conv2DBackpropFilter for the 'wasm' backend, where tfjs-backend-wasm 4.x has none, so conv
 * nets train there (a kernel already registered under that name, a later tfjs's own, is left alone), and
 * replaces its Conv2DBackpropInput by a flipped-filter convolution 6-9x faster (NCHW still runs the original).
 * Idempotent. NHWC only; dilations > 1 have no conv gradient in tfjs itself (tfjs-core refuses them
 * before any kernel runs).
 * @example registerWasmGradKernels(tf); // after the wasm backend is registered
 */
export function registerWasmGradKernels(tf: TF): void {
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm'))
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: filterGradKernel(tf) });
  const input = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (!input || (input as unknown as Record<symbol, boolean>)[COHORT_KERNEL]) return;
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({
    ...input,
    kernelFunc: inputGradKernel(tf, input.kernelFunc),
    [COHORT_KERNEL]: true,
  } as typeof input);
}

/**
 * True when the wasm backend has every gradient kernel a conv net's training needs (after `registerWasmGradKernels`).
 * @example if (!hasWasmGradKernels(tf)) registerWasmGradKernels(tf);
 */
export function hasWasmGradKernels(tf: TF): boolean {
  return WASM_CONV_GRAD_KERNELS.every((k) => tf.getKernel(k, 'wasm') !== undefined);
}
