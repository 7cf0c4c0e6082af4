/**
 * Krum and multi-Krum (Blanchard et al. 2017, "Machine Learning with Adversaries"): score each update by
 * the sum of squared distances to its n − f − 2 nearest others; Krum returns the lowest-scored update,
 * multi-Krum the plain mean of the m lowest-scored. Unweighted, as in the paper. Needs n ≥ 2f + 3.
 * Buffered: memory bounded by memoryBytes + blockBytes (see update-buffer.ts) + the n×n distance matrix
 * (8·n² bytes); distances are accumulated block by block over the coordinates.
 */
import { z } from 'zod';
import { bufferedAccumulator, bufferParams } from './buffered.js';
import { defineStrategy } from './params.js';
import { addSquaredDistances, krumScores, lowestScores } from './robust-stats.js';
import type { Strategy } from './types.js';
import type { UpdateBuffer } from './update-buffer.js';

/** f = 1 Byzantine update tolerated (the smallest useful value; Blanchard et al. give no default). */
export const KrumParamsSchema = z.object({ f: z.number().int().min(0).max(10_000).default(1), ...bufferParams });
/** m: how many lowest-scored updates multi-Krum averages; default n − f. */
export const MultiKrumParamsSchema = z.object({ ...KrumParamsSchema.shape, m: z.number().int().min(1).max(100_000).optional() });

/** Squared distances between all buffered updates, read block by block. */
function distances(buffer: UpdateBuffer): Float64Array {
  const n = buffer.length;
  const dist = new Float64Array(n * n);
  const step = buffer.blockSize();
  for (let start = 0; start < buffer.dim; start += step) addSquaredDistances(dist, buffer.block(start, Math.min(buffer.dim, start + step)));
  return dist;
}

/**
 * The unweighted mean of the `m` lowest-Krum-scored updates (m = 1: the Krum choice itself, exactly).
 * @example krumAggregate(buffer, 1, 1) // the update Krum selects, flat
 */
export function krumAggregate(buffer: UpdateBuffer, f: number, m: number): Float32Array {
  const n = buffer.length;
  if (m > n) throw new RangeError(`multi-Krum cannot average m=${m} updates out of ${n}`);
  const chosen = lowestScores(krumScores(distances(buffer), n, f), m);
  if (m === 1) return buffer.update(chosen[0] as number);
  const out = new Float32Array(buffer.dim);
  const step = buffer.blockSize();
  for (let start = 0; start < buffer.dim; start += step) {
    const end = Math.min(buffer.dim, start + step);
    const views = buffer.block(start, end);
    for (let c = 0; c < end - start; c++) {
      let sum = 0;
      for (const i of chosen) sum += (views[i] as Float32Array)[c] as number;
      out[start + c] = sum / m;
    }
  }
  return out;
}

/**
 * `krum`: the one update with the lowest Krum score.
 * @example krum.create({ f: 1 }).begin(shapes, previous)
 */
export const krum = defineStrategy(
  'krum',
  'Krum: the update closest to its n − f − 2 neighbours (Blanchard et al. 2017)',
  KrumParamsSchema,
  (p): Strategy =>
    Object.freeze({
      name: 'krum',
      params: Object.freeze({ ...p }),
      begin: (shapes: number[][], previous: Float32Array[]) =>
        bufferedAccumulator(shapes, previous, p, (buffer) => krumAggregate(buffer, p.f, 1)),
    }),
);

/**
 * `multi-krum`: the mean of the m lowest-scored updates (default m = n − f).
 * @example multiKrum.create({ f: 1, m: 3 }).begin(shapes, previous)
 */
export const multiKrum = defineStrategy(
  'multi-krum',
  'multi-Krum: the mean of the m best Krum scores (Blanchard et al. 2017)',
  MultiKrumParamsSchema,
  (p): Strategy =>
    Object.freeze({
      name: 'multi-krum',
      params: Object.freeze({ ...p }),
      begin: (shapes: number[][], previous: Float32Array[]) =>
        bufferedAccumulator(shapes, previous, p, (buffer) => krumAggregate(buffer, p.f, p.m ?? buffer.length - p.f)),
    }),
);
