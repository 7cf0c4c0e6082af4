/** Resampling a single-channel float image to another size (a separable triangle filter, as PIL's bilinear resize). */

/** Per output index: the source indices and weights (summing to 1) of a triangle filter widened by the scale when shrinking. */
function weights(from: number, to: number): { index: number[]; weight: number[] }[] {
  const scale = from / to;
  const support = Math.max(1, scale);
  return Array.from({ length: to }, (_, o) => {
    const centre = (o + 0.5) * scale - 0.5;
    const index: number[] = [];
    const weight: number[] = [];
    for (let i = Math.max(0, Math.floor(centre - support)); i <= Math.min(from - 1, Math.ceil(centre + support)); i++) {
      const wgt = Math.max(0, 1 - Math.abs(i - centre) / support);
      if (wgt > 0) {
        index.push(i);
        weight.push(wgt);
      }
    }
    if (index.length === 0) {
      index.push(Math.min(from - 1, Math.max(0, Math.round(centre))));
      weight.push(1);
    }
    const sum = weight.reduce((a, b) => a + b, 0);
    return { index, weight: weight.map((x) => x / sum) };
  });
}

/**
 * Resizes a row-major `height x width` single-channel image to `toHeight x toWidth` (averaging when shrinking,
 * linear interpolation when enlarging); the same size returns a copy.
 * @example resizeChannel(new Float32Array([0, 1, 1, 0]), 2, 2, 1, 1) // Float32Array [0.5]
 */
export function resizeChannel(src: Float32Array, height: number, width: number, toHeight: number, toWidth: number): Float32Array {
  if (src.length !== height * width) throw new RangeError(`image has ${src.length} values, ${height}x${width} needs ${height * width}`);
  if (height === toHeight && width === toWidth) return Float32Array.from(src);
  const across = weights(width, toWidth);
  const tmp = new Float32Array(height * toWidth);
  for (let r = 0; r < height; r++) {
    across.forEach(({ index, weight }, o) => {
      let v = 0;
      for (let k = 0; k < index.length; k++) v += (src[r * width + (index[k] as number)] as number) * (weight[k] as number);
      tmp[r * toWidth + o] = v;
    });
  }
  const down = weights(height, toHeight);
  const out = new Float32Array(toHeight * toWidth);
  down.forEach(({ index, weight }, o) => {
    for (let c = 0; c < toWidth; c++) {
      let v = 0;
      for (let k = 0; k < index.length; k++) v += (tmp[(index[k] as number) * toWidth + c] as number) * (weight[k] as number);
      out[o * toWidth + c] = v;
    }
  });
  return out;
}
