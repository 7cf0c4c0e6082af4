/**
 * Update compression, a study term (`none`, `fp16`, `int8`, `topk:FRACTION`): what a site sends instead of its
 * float32 update, as pure functions over Float32Arrays. What is compressed is the update's delta from the global model
 * it was trained from (deltas are small and, for top-k, concentrated in few entries; weights are neither).
 * The frame that carries a compressed update is in compressed-frame.ts.
 */
import { z } from 'zod';
import { CohortError } from './errors.js';
import { fromHalfBits, toHalfBits } from './half.js';

/** A parsed compression term. */
export type Compression = { mode: 'none' } | { mode: 'fp16' } | { mode: 'int8' } | { mode: 'topk'; fraction: number };
export type CompressionMode = Compression['mode'];

const TERM = /^(none|fp16|int8|topk:(\d+(\.\d+)?|\.\d+)(e-?\d+)?)$/;

/**
 * Parses `none`, `fp16`, `int8` or `topk:F` (0 < F <= 1); throws BAD_REQUEST naming the value otherwise.
 * @example parseCompression('topk:0.1') // { mode: 'topk', fraction: 0.1 }
 */
export function parseCompression(text: string): Compression {
  if (!TERM.test(text)) throw new CohortError('BAD_REQUEST', `compression "${text}" is not one of none, fp16, int8, topk:FRACTION`);
  if (!text.startsWith('topk:')) return { mode: text as 'none' | 'fp16' | 'int8' };
  const fraction = Number(text.slice(5));
  if (!(fraction > 0 && fraction <= 1))
    throw new CohortError('BAD_REQUEST', `compression "${text}": the top-k fraction must be in (0, 1], got ${fraction}`);
  return { mode: 'topk', fraction };
}

/** The study term as it stands in the manifest and the task's training config (absent there: none). */
export const CompressionTermSchema = z
  .string()
  .max(32)
  .refine((t) => {
    try {
      parseCompression(t);
      return true;
    } catch {
      return false;
    }
  }, 'compression is none, fp16, int8 or topk:FRACTION with 0 < FRACTION <= 1');

/**
 * The compression a training config or study states (absent: none).
 * @example compressionOf({ compress: 'int8' }).mode // 'int8'
 */
export function compressionOf(terms: { compress?: string | undefined }): Compression {
  return parseCompression(terms.compress ?? 'none');
}

/** One tensor as it travels compressed: half bits, int8 codes with their scale, or the kept entries of top-k. */
export type CompressedTensor = { name: string; shape: number[] } & (
  { fp16: Uint16Array } | { int8: Int8Array; scale: number } | { indices: Uint32Array; values: Float32Array }
);

/**
 * Entries top-k keeps of a tensor of `n` values: ceil(F·n), at least 1 (none for an empty tensor).
 * @example topkCount(0.1, 784) // 79
 */
export function topkCount(fraction: number, n: number): number {
  return n === 0 ? 0 : Math.max(1, Math.min(n, Math.ceil(fraction * n - 1e-9)));
}

/**
 * Compresses each delta tensor. int8 rounds stochastically (unbiased: E[decoded] = value) on a per-tensor scale
 * max|x|/127 drawn from `random` (uniform in [0, 1); seeded where runs must reproduce); top-k keeps the ceil(F·n)
 * entries of largest magnitude of each tensor (ties: the lowest indices), in index order.
 * @example const sent = compressTensors(deltas, { mode: 'int8' }, createPrng(7).next)
 */
export function compressTensors(
  deltas: readonly { name: string; shape: number[]; data: Float32Array }[],
  compression: Exclude<Compression, { mode: 'none' }>,
  random: () => number,
): CompressedTensor[] {
  return deltas.map(({ name, shape, data }) => {
    if (compression.mode === 'fp16') {
      const fp16 = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) fp16[i] = toHalfBits(data[i] as number);
      return { name, shape, fp16 };
    }
    if (compression.mode === 'int8') return { name, shape, ...quantiseInt8(data, random) };
    return { name, shape, ...topk(data, topkCount(compression.fraction, data.length)) };
  });
}

function quantiseInt8(data: Float32Array, random: () => number): { int8: Int8Array; scale: number } {
  let max = 0;
  for (let i = 0; i < data.length; i++) max = Math.max(max, Math.abs(data[i] as number));
  const scale = Math.fround(max / 127);
  const int8 = new Int8Array(data.length);
  if (scale > 0) {
    for (let i = 0; i < data.length; i++) {
      const q = Math.floor((data[i] as number) / scale + random());
      int8[i] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { int8, scale };
}

function topk(data: Float32Array, k: number): { indices: Uint32Array; values: Float32Array } {
  const magnitudes = Float32Array.from(data, Math.abs).sort();
  const threshold = magnitudes[data.length - k] ?? 0;
  let ties = k;
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i] as number) > threshold) ties--;
  const indices = new Uint32Array(k);
  const values = new Float32Array(k);
  let at = 0;
  for (let i = 0; i < data.length && at < k; i++) {
    const m = Math.abs(data[i] as number);
    if (m > threshold || (m === threshold && ties-- > 0)) {
      indices[at] = i;
      values[at++] = data[i] as number;
    }
  }
  return { indices, values };
}

/**
 * The float32 deltas a compressed update stands for (top-k: zero where no entry was sent).
 * @example const deltas = decompressTensors(sent)
 */
export function decompressTensors(tensors: readonly CompressedTensor[]): { name: string; shape: number[]; data: Float32Array }[] {
  return tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if ('fp16' in t) for (let i = 0; i < n; i++) data[i] = fromHalfBits(t.fp16[i] as number);
    else if ('int8' in t) for (let i = 0; i < n; i++) data[i] = (t.int8[i] as number) * t.scale;
    else for (let j = 0; j < t.indices.length; j++) data[t.indices[j] as number] = t.values[j] as number;
    return { name: t.name, shape: t.shape, data };
  });
}

/**
 * Multiplies a compressed update by `factor` (<= 1) without changing what it keeps: int8 scales its scale, top-k its
 * values, fp16 re-rounds each value (to nearest, so the result may exceed `factor` times the value by 2^-11 relative).
 * @example const clipped = scaleCompressed(sent, clipNorm / norm)
 */
export function scaleCompressed(tensors: readonly CompressedTensor[], factor: number): CompressedTensor[] {
  return tensors.map((t) => {
    if ('int8' in t) return { ...t, scale: Math.fround(t.scale * factor) };
    if ('indices' in t) return { ...t, values: t.values.map((v) => v * factor) };
    return { ...t, fp16: t.fp16.map((h) => toHalfBits(fromHalfBits(h) * factor)) };
  });
}
