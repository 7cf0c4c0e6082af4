/** IEEE 754 half precision (binary16) from and to float32, bit by bit (Node 20 has no Float16Array). */

/** The largest finite half: larger magnitudes are saturated to it by `toHalfBits`. */
export const HALF_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
let table: Float32Array | undefined;

/**
 * The binary16 bits nearest to `value` (round to nearest, ties to even); magnitudes above HALF_MAX saturate to
 * ±HALF_MAX (an update component that large is refused by the norm bound anyway), NaN stays NaN.
 * @example toHalfBits(1) // 0x3c00
 */
export function toHalfBits(value: number): number {
  f32[0] = value > HALF_MAX ? HALF_MAX : value < -HALF_MAX ? -HALF_MAX : value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 112; // rebias 127 -> 15
  if (e <= 0) {
    // A half subnormal: units of 2^-24.
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (rest > halfway || (rest === halfway && (half & 1) === 1) ? half + 1 : half);
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa moves to the next exponent, which is the correctly rounded result.
  return sign | (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? half + 1 : half);
}

/**
 * The float32 value of binary16 bits (exact: every half is a float32).
 * @example fromHalfBits(0x3c00) // 1
 */
export function fromHalfBits(bits: number): number {
  table ??= halfTable();
  return table[bits & 0xffff] as number;
}

function halfTable(): Float32Array {
  const out = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    out[h] = e === 0 ? sign * m * 2 ** -24 : e === 0x1f ? (m ? Number.NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}
