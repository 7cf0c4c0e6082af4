/** Which rows each of K institutions trains on at each step of a batched run: trainLocal's split and shuffles. */
import { createPrng } from '../../crypto/prng.js';
import { CohortError } from '../../protocol/errors.js';
import { rowWidth, type Dataset } from '../data/dataset.js';

/** One institution's plan: its held-out rows and, in order, the rows of every minibatch of every epoch. */
export interface InstitutionSchedule {
  valRows: number[];
  trainRows: number;
  /** batches[s] = the rows of its step s (epoch-major); epochOf[s] = that step's epoch (0-based). */
  batches: number[][];
  epochOf: number[];
}

/**
 * The split and batch order `trainLocal` would use with this seed: `createPrng(seed)` shuffles all rows once, the
 * first floor(n·valFraction) are held out, then each epoch reshuffles the training rows in place and cuts them into
 * minibatches of `batchSize` (the last one short).
 * @example scheduleFor(600, { seed: 3, valFraction: 0, epochs: 5, batchSize: 10 }).batches.length // 300
 */
export function scheduleFor(
  n: number,
  opts: { seed: number; valFraction: number; epochs: number; batchSize: number },
): InstitutionSchedule {
  const rng = createPrng(opts.seed);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const valCount = Math.min(Math.floor(n * opts.valFraction + 1e-9), n - 1);
  const valRows = order.slice(0, valCount);
  const train = order.slice(valCount);
  if (train.length === 0) throw new CohortError('BAD_SAMPLE_COUNT', 'no rows to train on');
  const batches: number[][] = [];
  const epochOf: number[] = [];
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    rng.shuffle(train);
    for (let start = 0; start < train.length; start += opts.batchSize) {
      batches.push(train.slice(start, start + opts.batchSize));
      epochOf.push(epoch);
    }
  }
  return { valRows, trainRows: train.length, batches, epochOf };
}

/**
 * The rows of one minibatch as flat arrays: x [r, width] and one-hot y [r, classes].
 * @example const { x, y } = minibatchArrays(ds, [4, 9, 2], 10); y.length // 30
 */
export function minibatchArrays(ds: Dataset, rows: number[], classes: number): { x: Float32Array; y: Float32Array } {
  const width = rowWidth(ds);
  const x = new Float32Array(rows.length * width);
  const y = new Float32Array(rows.length * classes);
  rows.forEach((row, b) => {
    x.set(ds.x.subarray(row * width, (row + 1) * width), b * width);
    y[b * classes + (ds.y[row] as number)] = 1;
  });
  return { x, y };
}
