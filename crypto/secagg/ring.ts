/**
 * Fixed-point encoding of weighted, clipped updates in the ring Z_(2^32), so that masks cancel exactly and sums wrap.
 *
 * Layout of an encoded vector (length L + 1): [ round(s * w * clip(x)_i) mod 2^32 for i < L, w ].
 * Overflow bound: with |clip(x)_i| <= ||clip(x)||_2 <= C, integer weights 0 <= w <= W, and the scaled value clamped to
 * M = W*C*s before rounding, every encoded entry satisfies |q| <= M + 1, so the sum of n of them satisfies
 * |sum| <= n (M + 1) <= 2^31 - 1 whenever s <= (2^31 - 1 - n) / (n W C): the signed sum is read back exactly.
 * The weight entry sums to at most n W <= 2^32 - 1. quantisationParams picks the largest such s.
 * Rounding: 'nearest' (default, deterministic, error <= 1/(2s) per entry per participant) or 'stochastic'
 * (unbiased, error < 1/s per entry per participant). The weighted average then errs by at most
 * n * e / (s * sum w) per coordinate (e = 1/2 or 1), see averageErrorBound.
 */
import { clipL2 } from '../dp/clip-noise.js';
import { defaultRandom, takeRandom, type RandomSource } from '../random.js';

export type Rounding = 'nearest' | 'stochastic';

export interface QuantisationParams {
  /** C: L2 clip norm of each update. */
  clipNorm: number;
  /** W: largest integer weight (e.g. a cap on sample counts). */
  maxWeight: number;
  /** n: most participants whose vectors are summed. */
  maxParticipants: number;
  /** s: fixed-point scale (units per 1.0). */
  scale: number;
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * The largest scale for which the sum of `maxParticipants` encoded updates cannot overflow (bound in the module header).
 * @example quantisationParams({ clipNorm: 1, maxWeight: 1000, maxParticipants: 100 }).scale // ~21474
 */
export function quantisationParams(args: { clipNorm: number; maxWeight: number; maxParticipants: number }): QuantisationParams {
  const { clipNorm, maxWeight, maxParticipants } = args;
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  if (!Number.isInteger(maxWeight) || maxWeight < 1) throw new RangeError(`maxWeight must be a positive integer, got ${maxWeight}`);
  if (!Number.isInteger(maxParticipants) || maxParticipants < 1)
    throw new RangeError(`maxParticipants must be a positive integer, got ${maxParticipants}`);
  if (maxParticipants * maxWeight > 0xffffffff)
    throw new RangeError(`maxParticipants * maxWeight must be < 2^32 (the weight entry's sum), got ${maxParticipants * maxWeight}`);
  const scale = (INT32_MAX - maxParticipants) / (maxParticipants * maxWeight * clipNorm);
  if (!(scale >= 1)) throw new RangeError(`scale ${scale} < 1: reduce clipNorm, maxWeight or maxParticipants`);
  return { clipNorm, maxWeight, maxParticipants, scale };
}

/**
 * Clips `update` to clipNorm, multiplies by the integer `weight`, and encodes it in Z_(2^32) (length update.length + 1).
 * Returns the original norm as well (for adaptive clipping and logs).
 * @example const { vector } = quantiseWeighted(update, 120, params);
 */
export function quantiseWeighted(
  update: Float32Array,
  weight: number,
  params: QuantisationParams,
  options: { rounding?: Rounding; random?: RandomSource } = {},
): { vector: Uint32Array; norm: number; clipped: boolean } {
  if (!Number.isInteger(weight) || weight < 0 || weight > params.maxWeight)
    throw new RangeError(`weight must be an integer in [0, ${params.maxWeight}], got ${weight}`);
  const rounding = options.rounding ?? 'nearest';
  const { clipped, norm, factor } = clipL2(update, params.clipNorm);
  const limit = params.maxWeight * params.clipNorm * params.scale;
  const multiplier = weight * params.scale;
  const vector = new Uint32Array(update.length + 1);
  const noise = rounding === 'stochastic' ? takeRandom(options.random ?? defaultRandom, 4 * update.length) : null;
  const uniforms = noise ? new DataView(noise.buffer, noise.byteOffset, noise.byteLength) : null;
  for (let i = 0; i < update.length; i++) {
    let v = (clipped[i] as number) * multiplier;
    v = v > limit ? limit : v < -limit ? -limit : v;
    let q: number;
    if (uniforms) {
      const low = Math.floor(v);
      q = low + (uniforms.getUint32(4 * i, true) / 4294967296 < v - low ? 1 : 0);
    } else {
      q = Math.round(v);
    }
    vector[i] = q; // ToUint32: two's complement mod 2^32
  }
  noise?.fill(0);
  vector[update.length] = weight;
  return { vector, norm, clipped: factor < 1 };
}

/**
 * Decodes a SUM of encoded vectors: the weighted sum (float64), the total weight, and the weighted average (null when the weight is 0).
 * @example const { average, weightSum } = dequantiseSum(unmaskedSum, params);
 */
export function dequantiseSum(
  sum: Uint32Array,
  params: QuantisationParams,
): { weightedSum: Float64Array; weightSum: number; average: Float32Array | null } {
  if (!(sum instanceof Uint32Array) || sum.length < 1) throw new TypeError('sum must be a non-empty Uint32Array');
  const length = sum.length - 1;
  const weightSum = sum[length] as number;
  const weightedSum = new Float64Array(length);
  for (let i = 0; i < length; i++) weightedSum[i] = ((sum[i] as number) | 0) / params.scale;
  if (weightSum === 0) return { weightedSum, weightSum, average: null };
  const average = new Float32Array(length);
  for (let i = 0; i < length; i++) average[i] = (weightedSum[i] as number) / weightSum;
  return { weightedSum, weightSum, average };
}

/**
 * Worst-case absolute error of each coordinate of the decoded weighted average (before its float32 rounding), against
 * the exact weighted mean of the CLIPPED updates: participants * e / (scale * weightSum), e = 1/2 (nearest) or 1 (stochastic).
 * @example averageErrorBound({ params, participants: 10, weightSum: 1200 })
 */
export function averageErrorBound(args: {
  params: QuantisationParams;
  participants: number;
  weightSum: number;
  rounding?: Rounding;
}): number {
  const perEntry = (args.rounding ?? 'nearest') === 'nearest' ? 0.5 : 1;
  return (args.participants * perEntry) / (args.params.scale * args.weightSum);
}

/**
 * acc += v (mod 2^32), in place.
 * @example addInto(sum, maskedVector);
 */
export function addInto(acc: Uint32Array, v: Uint32Array): void {
  if (acc.length !== v.length) throw new RangeError(`length mismatch: ${acc.length} vs ${v.length}`);
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) + (v[i] as number);
}

/**
 * acc -= v (mod 2^32), in place.
 * @example subInto(sum, selfMask);
 */
export function subInto(acc: Uint32Array, v: Uint32Array): void {
  if (acc.length !== v.length) throw new RangeError(`length mismatch: ${acc.length} vs ${v.length}`);
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) - (v[i] as number);
}
