/**
 * Shamir secret sharing of byte strings over GF(2^8), byte by byte: threshold t of n, shares indexed 1..n (n <= 255).
 * Any t shares give the secret; t - 1 shares are uniformly distributed whatever the secret (information-theoretic).
 */
import { defaultRandom, takeRandom, type RandomSource } from '../random.js';
import { assertBytes } from '../validate.js';
import { gfMul, lagrangeCoefficients } from './gf256.js';

/** One share: its evaluation point (1..255) and the polynomial values, one byte per secret byte. */
export interface Share {
  index: number;
  bytes: Uint8Array;
}

export type CombineFailure = 'TOO_FEW_SHARES' | 'INCONSISTENT_SHARES' | 'COMMITMENT_MISMATCH';
export type CombineResult = { ok: true; secret: Uint8Array } | { ok: false; reason: CombineFailure; message: string };

function assertThreshold(threshold: number, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 255) throw new RangeError(`share count must be an integer in 1..255, got ${count}`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > count) {
    throw new RangeError(`threshold must be an integer in 1..${count}, got ${threshold}`);
  }
}

function assertShares(shares: readonly Share[]): number {
  if (!Array.isArray(shares) || shares.length === 0) throw new TypeError('expected a non-empty array of shares');
  const seen = new Set<number>();
  const length = (shares[0] as Share).bytes?.length;
  for (const share of shares) {
    if (!Number.isInteger(share.index) || share.index < 1 || share.index > 255)
      throw new RangeError(`share index must be in 1..255, got ${share.index}`);
    if (seen.has(share.index)) throw new RangeError(`duplicate share index ${share.index}`);
    seen.add(share.index);
    assertBytes(`share ${share.index}`, share.bytes, length);
  }
  return length as number;
}

/**
 * Splits `secret` into `count` shares (indices 1..count), any `threshold` of which recover it.
 * @example const shares = split(seed, 3, 5); combine(shares.slice(1, 4)) // equals seed
 */
export function split(secret: Uint8Array, threshold: number, count: number, random: RandomSource = defaultRandom): Share[] {
  assertBytes('secret', secret);
  assertThreshold(threshold, count);
  const length = secret.length;
  // coefficients[k * length + j] is the x^(k+1) coefficient of byte j's polynomial; the constant term is the secret.
  const coefficients = takeRandom(random, (threshold - 1) * length);
  const shares: Share[] = [];
  for (let x = 1; x <= count; x++) {
    const bytes = new Uint8Array(length);
    for (let j = 0; j < length; j++) {
      let acc = 0;
      for (let k = threshold - 2; k >= 0; k--) acc = gfMul(acc, x) ^ (coefficients[k * length + j] as number);
      bytes[j] = gfMul(acc, x) ^ (secret[j] as number);
    }
    shares.push({ index: x, bytes });
  }
  coefficients.fill(0);
  return shares;
}

/** Evaluates, at `at`, the polynomial interpolated through `shares` (all of them). */
function interpolate(shares: readonly Share[], at: number, length: number): Uint8Array {
  const weights = lagrangeCoefficients(
    shares.map((s) => s.index),
    at,
  );
  const out = new Uint8Array(length);
  for (let i = 0; i < shares.length; i++) {
    const w = weights[i] as number;
    const bytes = (shares[i] as Share).bytes;
    for (let j = 0; j < length; j++) out[j] = (out[j] as number) ^ gfMul(w, bytes[j] as number);
  }
  return out;
}

/**
 * The secret interpolated through all given shares. With at least `threshold` consistent shares this is the secret;
 * with fewer it is a uniformly random-looking value unrelated to it. Use combineVerified to detect bad shares.
 * @example combine([shares[0], shares[2], shares[4]]) // the secret when threshold <= 3
 */
export function combine(shares: readonly Share[]): Uint8Array {
  const length = assertShares(shares);
  return interpolate(shares, 0, length);
}

/**
 * True when every share lies on one polynomial of degree < threshold (interpolated through the first `threshold` shares).
 * With exactly `threshold` shares this is always true: inconsistency needs at least one extra share to be visible.
 * @example sharesConsistent(shares, 3) // false if any share was altered and more than 3 are given
 */
export function sharesConsistent(shares: readonly Share[], threshold: number): boolean {
  const length = assertShares(shares);
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`threshold must be a positive integer, got ${threshold}`);
  if (shares.length <= threshold) return true;
  const base = shares.slice(0, threshold);
  for (const extra of shares.slice(threshold)) {
    const expected = interpolate(base, extra.index, length);
    for (let j = 0; j < length; j++) if (expected[j] !== extra.bytes[j]) return false;
  }
  return true;
}

/**
 * Reconstructs from at least `threshold` shares, refusing if the shares do not lie on one polynomial of degree < threshold,
 * or if `check` (a commitment test, e.g. hash or public key of the secret) rejects the result. Never throws on bad shares.
 * @example combineVerified(received, 3, (s) => constantTimeEqual(sha256(s), commitment))
 */
export function combineVerified(shares: readonly Share[], threshold: number, check?: (secret: Uint8Array) => boolean): CombineResult {
  if (shares.length < threshold) {
    return { ok: false, reason: 'TOO_FEW_SHARES', message: `${shares.length} shares, ${threshold} needed` };
  }
  if (!sharesConsistent(shares, threshold)) {
    return {
      ok: false,
      reason: 'INCONSISTENT_SHARES',
      message: `the ${shares.length} shares do not lie on one polynomial of degree < ${threshold}`,
    };
  }
  const secret = combine(shares.slice(0, threshold));
  if (check && !check(secret)) {
    secret.fill(0);
    return { ok: false, reason: 'COMMITMENT_MISMATCH', message: 'the reconstructed secret does not match its commitment' };
  }
  return { ok: true, secret };
}
