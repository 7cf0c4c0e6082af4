/** Which rows each of K institutions trains on at each step of a batched run: trainLocal's split and shuffles, padded and masked. */
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
export function scheduleFor(n: number, opts: { seed: number; valFraction: number; epochs: number; batchSize: number }): InstitutionSchedule {
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

/** One batched step's inputs as flat arrays: x [K, B, width], one-hot y [K, B, classes], row weights [K, B]. */
export interface StepArrays {
  x: Float32Array;
  y: Float32Array;
  /** 1/r for each of an institution's r real rows this step, 0 for padding (and for an institution already done). */
  weight: Float32Array;
}

/**
 * Fills step `step` of every institution into [K, B, ...] arrays; an institution whose schedule is shorter, or whose
 * batch is short, gets zero rows with weight 0, so its SGD update for the padding is exactly zero.
 * @example const a = stepArrays(datasets, schedules, 0, 10, 10); a.weight.length // K * 10
 */
export function stepArrays(datasets: Dataset[], schedules: InstitutionSchedule[], step: number, batchSize: number, classes: number): StepArrays {
  const k = datasets.length;
  const width = rowWidth(datasets[0] as Dataset);
  const x = new Float32Array(k * batchSize * width);
  const y = new Float32Array(k * batchSize * classes);
  const weight = new Float32Array(k * batchSize);
  for (let i = 0; i < k; i++) {
    const rows = (schedules[i] as InstitutionSchedule).batches[step];
    if (!rows) continue;
    const ds = datasets[i] as Dataset;
    rows.forEach((row, b) => {
      const slot = i * batchSize + b;
      x.set(ds.x.subarray(row * width, (row + 1) * width), slot * width);
      y[slot * classes + (ds.y[row] as number)] = 1;
      weight[slot] = 1 / rows.length;
    });
  }
  return { x, y, weight };
}
