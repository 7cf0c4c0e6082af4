/** The accumulator of the robust strategies: buffers whole updates (memory, then a spill file) and aggregates them at result(). */
import { z } from 'zod';
import { checkOpen, checkTensors, checkWeight, sizeOf } from './checks.js';
import type { Accumulator } from './types.js';
import { unflatten, UpdateBuffer, type BufferOptions } from './update-buffer.js';

/** Buffer parameters every robust strategy accepts: 256 MiB of updates in memory, 8 MiB of block scratch. */
export const bufferParams = {
  memoryBytes: z
    .number()
    .int()
    .min(0)
    .max(2 ** 52)
    .default(256 * 2 ** 20),
  blockBytes: z
    .number()
    .int()
    .min(4)
    .max(2 ** 40)
    .default(8 * 2 ** 20),
  spillDir: z.string().min(1).optional(),
};

/** An accumulator that holds the round's updates; tells where they are, for tests and logs. */
export interface BufferedAccumulator extends Accumulator {
  /** Updates written to the spill file. */
  readonly spilled: number;
  /** Bytes of updates held in memory (at most `memoryBytes`). */
  readonly bytesInMemory: number;
  /** The spill directory while it exists. */
  readonly spillPath: string | undefined;
  dispose(): void;
}

/**
 * Buffers every update (copied; weights are counted but the robust rules ignore them), and at
 * `result()` runs `aggregate` over the buffer, then deletes the buffer's file, also on error.
 * @example bufferedAccumulator(shapes, previous, opts, (buf) => coordinatewise(buf, median))
 */
export function bufferedAccumulator(
  shapes: number[][],
  previous: Float32Array[],
  opts: BufferOptions,
  aggregate: (buffer: UpdateBuffer) => Float32Array,
): BufferedAccumulator {
  const sizes = shapes.map(sizeOf);
  checkTensors(previous, sizes, 'previous model');
  const buffer = new UpdateBuffer(sizes, opts);
  let totalWeight = 0;
  let result: Float32Array[] | undefined;
  let closed = false;
  return {
    add(tensors, weight) {
      checkOpen(closed);
      checkWeight(weight);
      checkTensors(tensors, sizes, `update ${buffer.length + 1}`);
      buffer.push(tensors);
      totalWeight += weight;
    },
    get count() {
      return buffer.length;
    },
    get totalWeight() {
      return totalWeight;
    },
    get spilled() {
      return buffer.spilled;
    },
    get bytesInMemory() {
      return buffer.bytesInMemory;
    },
    get spillPath() {
      return buffer.spillPath;
    },
    result() {
      if (result) return result;
      if (closed) throw new Error('this round was disposed, or its aggregation failed: begin a new one');
      if (buffer.length === 0) return null;
      closed = true;
      try {
        result = unflatten(aggregate(buffer), sizes);
        return result;
      } finally {
        buffer.dispose();
      }
    },
    dispose() {
      closed = true;
      buffer.dispose();
    },
  };
}

/**
 * Reduces every coordinate over all updates with `reduce` (given a column of n values it may reorder),
 * reading the buffer block by block: scratch is one block of the spilled updates plus one column.
 * @example coordinatewise(buffer, median) // the coordinate-wise median, flat
 */
export function coordinatewise(buffer: UpdateBuffer, reduce: (column: Float64Array) => number): Float32Array {
  const out = new Float32Array(buffer.dim);
  const column = new Float64Array(buffer.length);
  const step = buffer.blockSize();
  for (let start = 0; start < buffer.dim; start += step) {
    const end = Math.min(buffer.dim, start + step);
    const views = buffer.block(start, end);
    for (let c = 0; c < end - start; c++) {
      for (let u = 0; u < views.length; u++) column[u] = (views[u] as Float32Array)[c] as number;
      out[start + c] = reduce(column);
    }
  }
  return out;
}
