/**
 * RDP accountant for the (Poisson-)sampled Gaussian mechanism, after Mironov, Talwar & Zhang 2019
 * ("Renyi Differential Privacy of the Sampled Gaussian Mechanism"), computed as TensorFlow Privacy's compute_rdp does:
 * integer orders by the binomial expansion of A_alpha in log space, fractional orders by the two-sided series with erfc.
 */
import { logAdd, logComb, logErfc, logSub } from './log-math.js';

/**
 * The orders TF Privacy's compute_dp_sgd_privacy uses: [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5] + 5..63 + [128, 256, 512].
 * (tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_lib.py)
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  1.25,
  1.5,
  1.75,
  2,
  2.25,
  2.5,
  3,
  3.5,
  4,
  4.5,
  ...Array.from({ length: 59 }, (_, i) => i + 5),
  128,
  256,
  512,
]);

/** Opacus's RDPAccountant.DEFAULT_ALPHAS: 1.1, 1.2, ..., 10.9 and 12..63 (pytorch/opacus, opacus/accountants/rdp.py). */
export const OPACUS_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => i + 12),
]);

/** log(A_alpha) for integer alpha >= 2 and 0 < q < 1: log sum_i C(alpha, i) q^i (1-q)^(alpha-i) exp((i^2 - i) / (2 sigma^2)). */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logA = -Infinity;
  for (let i = 0; i <= alpha; i++) {
    const term = logComb(alpha, i) + i * logQ + (alpha - i) * log1mQ + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, term);
  }
  return logA;
}

/** log(A_alpha) for fractional alpha and 0 < q < 1: the series split at z0 = sigma^2 log(1/q - 1) + 1/2 (MTZ 2019, Section 3.3). */
function logAFractional(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const sqrt2Sigma = Math.SQRT2 * sigma;
  let logAbsCoef = 0; // log |C(alpha, i)|, updated by the ratio (alpha - i + 1) / i
  let positive = true;
  for (let i = 0; ; i++) {
    if (i > 0) {
      const factor = alpha - i + 1;
      logAbsCoef += Math.log(Math.abs(factor)) - Math.log(i);
      if (factor < 0) positive = !positive;
    }
    const j = alpha - i;
    const logT0 = logAbsCoef + i * logQ + j * log1mQ;
    const logT1 = logAbsCoef + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (positive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
    if (i > 1_000_000) throw new RangeError(`RDP series did not converge (q=${q}, sigma=${sigma}, alpha=${alpha})`);
  }
  return logAdd(logA0, logA1);
}

/** RDP of one step of the sampled Gaussian mechanism at one order. */
function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (alpha === Infinity) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  return logA / (alpha - 1);
}

function assertOrders(orders: readonly number[]): void {
  if (!Array.isArray(orders) || orders.length === 0) throw new TypeError('orders must be a non-empty array');
  for (const a of orders) if (typeof a !== 'number' || !(a > 1)) throw new RangeError(`every order must be > 1, got ${String(a)}`);
}

/**
 * RDP of `steps` compositions of the sampled Gaussian mechanism (sampling rate q, noise std = noiseMultiplier x sensitivity),
 * one value per order. q = 1 gives exactly steps * alpha / (2 z^2).
 * @example computeRdp({ q: 0.01, noiseMultiplier: 1.1, steps: 1000 }) // number[] aligned with DEFAULT_ORDERS
 */
export function computeRdp(args: { q: number; noiseMultiplier: number; steps: number; orders?: readonly number[] }): number[] {
  const { q, noiseMultiplier, steps } = args;
  const orders = args.orders ?? DEFAULT_ORDERS;
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new RangeError(`q must be in [0, 1], got ${String(q)}`);
  if (typeof noiseMultiplier !== 'number' || !(noiseMultiplier >= 0) || noiseMultiplier === Infinity)
    throw new RangeError(`noiseMultiplier must be finite and >= 0, got ${String(noiseMultiplier)}`);
  if (typeof steps !== 'number' || !(steps >= 0) || !Number.isFinite(steps))
    throw new RangeError(`steps must be finite and >= 0, got ${String(steps)}`);
  assertOrders(orders);
  return orders.map((alpha) => (steps === 0 ? 0 : rdpOneStep(q, noiseMultiplier, alpha) * steps));
}
