/** The in-memory dataset an institution trains on: dense float rows and integer class labels. */
import type { Task } from '../../protocol/model-spec.js';

/** A labelled dataset; row `i` is `x[i * width .. (i + 1) * width)` with `width = product(inputShape)`. */
export interface Dataset {
  /** n * width values, row-major. */
  x: Float32Array;
  /** Class index per row, in `[0, classes.length)` (0/1 for a binary task; 0 for multilabel and regression rows). */
  y: Int32Array;
  /** Multilabel (0/1) and regression targets: n * classes.length values, row-major, one column per output name. */
  targets?: Float32Array;
  n: number;
  inputShape: number[];
  classes: string[];
  /** Column names of tabular data, in order. */
  features?: string[];
  /** What the labels are for, when not classification (a CSV loader's given or inferred task). */
  task?: Task;
  /** Image data: one image's [height, width, channels], whatever layout the model takes (flat or [h, w, c]). */
  imageShape?: [number, number, number];
}

/** Number of values in one row of a dataset. */
export function rowWidth(ds: Pick<Dataset, 'inputShape'>): number {
  return ds.inputShape.reduce((a, b) => a * b, 1);
}

/**
 * A new dataset holding the given rows, in the given order (data is copied).
 * @example const test = selectRows(ds, [0, 5, 9]); // test.n === 3
 */
export function selectRows(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const width = rowWidth(ds);
  const n = indices.length;
  const x = new Float32Array(n * width);
  const y = new Int32Array(n);
  const k = ds.classes.length;
  const targets = ds.targets ? new Float32Array(n * k) : undefined;
  for (let i = 0; i < n; i++) {
    const row = indices[i] as number;
    if (!Number.isInteger(row) || row < 0 || row >= ds.n) {
      throw new RangeError(`row index ${row} out of range [0, ${ds.n})`);
    }
    x.set(ds.x.subarray(row * width, (row + 1) * width), i * width);
    y[i] = ds.y[row] as number;
    if (targets) targets.set((ds.targets as Float32Array).subarray(row * k, (row + 1) * k), i * k);
  }
  const out: Dataset = { x, y, n, inputShape: [...ds.inputShape], classes: [...ds.classes] };
  if (ds.features) out.features = [...ds.features];
  if (targets) out.targets = targets;
  if (ds.task) out.task = ds.task;
  if (ds.imageShape) out.imageShape = [...ds.imageShape];
  return out;
}

/**
 * The rows of the given classes (some of the dataset's), relabelled in `classes`' order: a study on part of a data
 * set's classes (`--classes 5,6,7,8,9`). Throws naming a class the dataset lacks.
 * @example restrictClasses(mnist, ['5', '6']).classes // ['5', '6']; every row a 5 or a 6, labelled 0 or 1
 */
export function restrictClasses(ds: Dataset, classes: readonly string[]): Dataset {
  const index = classes.map((c) => {
    const at = ds.classes.indexOf(c);
    if (at < 0) throw new Error(`class ${c} is not one of the data's (${ds.classes.slice(0, 20).join(', ')})`);
    return at;
  });
  const remap = new Map(index.map((from, to) => [from, to]));
  const rows: number[] = [];
  ds.y.forEach((label, i) => {
    if (remap.has(label)) rows.push(i);
  });
  const out = selectRows(ds, rows);
  out.y = Int32Array.from(out.y, (label) => remap.get(label) as number);
  out.classes = [...classes];
  return out;
}

/**
 * Count of rows per class, indexed like `ds.classes`.
 * @example labelHistogram(ds) // [1001, 1127, ...]
 */
export function labelHistogram(ds: Pick<Dataset, 'y' | 'classes'>): number[] {
  const counts = new Array<number>(ds.classes.length).fill(0);
  for (const label of ds.y) {
    if (label < 0 || label >= counts.length) throw new RangeError(`label ${label} out of range [0, ${counts.length})`);
    counts[label] = (counts[label] as number) + 1;
  }
  return counts;
}
