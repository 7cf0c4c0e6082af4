/** The gradient of a 2x2 stride-2 'valid' max pool over plain arrays, with tfjs-backend-wasm's MaxPoolGrad rule (no TensorFlow.js import). */

/** NHWC shape. */
export type Shape4 = [number, number, number, number];

/** tfjs-backend-wasm's MaxPoolGrad starts each window's running max at FLT_MIN (its `numeric_limits<float>::min()`), not -inf. */
const FLT_MIN = 1.1754943508222875e-38;

/**
 * The pass of maxPool2x2Grad over plain arrays: NHWC `x` of `shape`, its pool's gradient `g`, the result written to all
 * of `dx` (x's size); `mask` applies the relu whose output `x` is. Also the wasm MaxPoolGrad kernel's (wasm-fast-kernels.ts). The tie rule is maxPool2x2Grad's (batched-pool.ts).
 * With `channelSums` (one entry per channel, zeroed by the caller), every value written to `dx` is also added to its
 * channel's entry: with `mask`, the bias gradient of the conv whose relu output `x` is, in the same pass.
 * @example maxPool2x2GradInto(x, g, dx, [1, 4, 4, 2], false);
 */
export function maxPool2x2GradInto(
  x: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  shape: Shape4,
  mask: boolean,
  channelSums?: Float64Array,
): void {
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
          if ((best !== 0 || p0 === 0) && (!mask || (x[best] as number) > 0)) {
            const v = g[o] as number;
            dx[best] = v;
            if (channelSums) channelSums[ch] = (channelSums[ch] as number) + v;
          }
        }
      }
    }
  }
}
