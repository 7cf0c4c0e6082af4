/** Data sets whose inputs stay on disk (images streamed a batch at a time), and the batch feed the trainer reads both kinds through. */
import { rowWidth, type Dataset } from './dataset.js';

/** A batch as read: the rows that could be read (a file that turned bad is left out under `--on-bad-file skip`) and their inputs, row-major. */
export interface RowBatch {
  rows: number[];
  x: Float32Array;
}

/** Decoded rows held at once by a streamed data set's feeds: now, and the most so far (memory accounting). */
export interface HeldRows {
  now: number;
  peak: number;
}

/**
 * A data set with labels and shape in memory and inputs read on demand: memory is O(batch), not O(rows).
 * `read` returns the given rows' inputs (decoded, scaled, normalised as the source says) in order.
 */
export interface StreamedDataset extends Omit<Dataset, 'x'> {
  read(rows: readonly number[]): Promise<RowBatch>;
  held: HeldRows;
}

/** An in-memory or a streamed data set. */
export type AnyDataset = Dataset | StreamedDataset;

/**
 * Whether the data set's inputs are read on demand.
 * @example isStreamed(loadMnist()) // false
 */
export function isStreamed(ds: AnyDataset): ds is StreamedDataset {
  return 'read' in ds;
}

/**
 * The given rows of a streamed data set, in the given order, as a streamed data set (nothing is read).
 * @example selectStreamedRows(ds, [4, 2]).n // 2
 */
export function selectStreamedRows(ds: StreamedDataset, indices: ArrayLike<number>): StreamedDataset {
  const map = Array.from(indices);
  for (const row of map)
    if (!Number.isInteger(row) || row < 0 || row >= ds.n) throw new RangeError(`row index ${row} out of range [0, ${ds.n})`);
  const k = ds.classes.length;
  const targets = ds.targets;
  return {
    ...ds,
    n: map.length,
    y: Int32Array.from(map, (r) => ds.y[r] as number),
    ...(targets
      ? {
          targets: Float32Array.from(
            { length: map.length * k },
            (_, i) => targets[(map[Math.floor(i / k)] as number) * k + (i % k)] as number,
          ),
        }
      : {}),
    inputShape: [...ds.inputShape],
    classes: [...ds.classes],
    async read(rows) {
      const back = new Map(rows.map((r) => [map[r] as number, r]));
      const batch = await ds.read(rows.map((r) => map[r] as number));
      return { rows: batch.rows.map((r) => back.get(r) as number), x: batch.x };
    },
  };
}

/**
 * The inputs of each batch of rows, in order. In memory: copied from `x`. Streamed: `ahead` batches are read before
 * they are asked for (decoding overlaps training), so at most `ahead + 1` batches are decoded at once (`held`).
 * Breaking out of the loop stops reading.
 * @example for await (const { rows, x } of batchFeed(ds, [[0, 1], [2, 3]])) train(rows, x);
 */
export async function* batchFeed(ds: AnyDataset, batches: readonly (readonly number[])[], ahead = 2): AsyncGenerator<RowBatch> {
  if (!isStreamed(ds)) {
    const width = rowWidth(ds);
    for (const rows of batches) {
      const x = new Float32Array(rows.length * width);
      rows.forEach((row, i) => x.set(ds.x.subarray(row * width, (row + 1) * width), i * width));
      yield { rows: [...rows], x };
    }
    return;
  }
  const held = ds.held;
  const queue: { size: number; batch: Promise<RowBatch> }[] = [];
  let started = 0;
  const fill = (): void => {
    while (started < batches.length && queue.length <= ahead) {
      const rows = batches[started++] as readonly number[];
      held.now += rows.length;
      held.peak = Math.max(held.peak, held.now);
      const batch = ds.read(rows);
      batch.catch(() => undefined); // awaited in order below; a batch read but never asked for must not go unhandled
      queue.push({ size: rows.length, batch });
    }
  };
  try {
    fill();
    while (queue.length > 0) {
      const head = queue[0] as { size: number; batch: Promise<RowBatch> };
      const batch = await head.batch;
      yield batch;
      queue.shift();
      held.now -= head.size;
      fill();
    }
  } finally {
    for (const q of queue) held.now -= q.size;
  }
}
