/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): for each parameter, drop the ⌊β·n⌋ largest and
 * ⌊β·n⌋ smallest values over the updates and average the rest. With fewer than 1/β updates nothing
 * is dropped (it is the plain mean): raise β for small federations. Unweighted, as in the paper.
 * Buffered: memory bounded by memoryBytes + blockBytes (see update-buffer.ts), the rest spills to disk.
 */
import { z } from 'zod';
import { bufferedAccumulator, bufferParams, coordinatewise } from './buffered.js';
import { defineStrategy } from './params.js';
import { trimCount, trimmedMean as trimmedMeanOf } from './robust-stats.js';
import type { Strategy } from './types.js';

/** β = 0.1: the fraction dropped from each side, in [0, 0.5). */
export const TrimmedMeanParamsSchema = z.object({ beta: z.number().min(0).lt(0.5).default(0.1), ...bufferParams });

/**
 * `trimmed-mean`: the coordinate-wise β-trimmed mean of the round's updates.
 * @example trimmedMean.create({ beta: 0.2 }).begin(shapes, previous)
 */
export const trimmedMean = defineStrategy(
  'trimmed-mean',
  'coordinate-wise trimmed mean, unweighted (Yin et al. 2018)',
  TrimmedMeanParamsSchema,
  (p): Strategy =>
    Object.freeze({
      name: 'trimmed-mean',
      params: Object.freeze({ ...p }),
      begin: (shapes: number[][], previous: Float32Array[]) =>
        bufferedAccumulator(shapes, previous, p, (buffer) => {
          const k = trimCount(buffer.length, p.beta);
          return coordinatewise(buffer, (column) => trimmedMeanOf(column, k));
        }),
    }),
);
