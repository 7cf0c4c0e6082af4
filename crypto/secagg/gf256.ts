/** Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b), by log/exp tables (internal). */

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    // multiply by the generator 3: x * 2 (with reduction) xor x
    const doubled = x & 0x80 ? ((x << 1) ^ 0x11b) & 0xff : x << 1;
    x = doubled ^ x;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255] as number;
}

/** Product of two field elements. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[(LOG[a] as number) + (LOG[b] as number)] as number;
}

/** Quotient a / b; b must be non-zero. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('division by zero in GF(2^8)');
  if (a === 0) return 0;
  return EXP[(LOG[a] as number) + 255 - (LOG[b] as number)] as number;
}

/**
 * Lagrange basis coefficients l_i(at) for the points xs (distinct, non-zero): p(at) = sum_i l_i * p(x_i).
 * Subtraction is xor in characteristic 2.
 */
export function lagrangeCoefficients(xs: readonly number[], at: number): Uint8Array {
  const out = new Uint8Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i] as number;
    let num = 1;
    let den = 1;
    for (let j = 0; j < xs.length; j++) {
      if (j === i) continue;
      const xj = xs[j] as number;
      num = gfMul(num, at ^ xj);
      den = gfMul(den, xi ^ xj);
    }
    out[i] = gfDiv(num, den);
  }
  return out;
}
