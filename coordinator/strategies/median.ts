/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning"): each parameter of
 * the new model is the median of that parameter over the round's updates. Unweighted, as in the paper
 * (sample counts are self-reported, so weighting would hand an attacker the result). Buffered: memory
 * is bounded by memoryBytes + blockBytes (see update-buffer.ts), the rest spills to a temp file.
 */
import { z } from 'zod';
import { bufferedAccumulator, bufferParams, coordinatewise } from './buffered.js';
import { defineStrategy } from './params.js';
import { median as medianOf } from './robust-stats.js';
import type { Strategy } from './types.js';

export const MedianParamsSchema = z.object({ ...bufferParams });

/**
 * `median`: the coordinate-wise median of the round's updates.
 * @example median.create({ memoryBytes: 64 * 2 ** 20 }).begin(shapes, previous)
 */
export const median = defineStrategy('median', 'coordinate-wise median, unweighted (Yin et al. 2018)', MedianParamsSchema, (p): Strategy =>
  Object.freeze({
    name: 'median',
    params: Object.freeze({ ...p }),
    begin: (shapes: number[][], previous: Float32Array[]) =>
      bufferedAccumulator(shapes, previous, p, (buffer) => coordinatewise(buffer, medianOf)),
  }),
);
