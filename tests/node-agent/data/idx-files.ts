/** Hand-built IDX files for tests: a header, big-endian sizes, then bytes; and a small learnable image set written to disk. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** One IDX file: magic 0x0000TTDD, the sizes, the data. */
export function idxBytes(dims: number[], data: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

/** The label of global row `i` (training rows first, then test rows). */
export const labelOf = (i: number, classes: number): number => (i * 7) % classes;

/** Pixel `k` of global row `i`: bright on the pixels of its class (k % classes), faint and row-specific elsewhere. */
export function pixelOf(i: number, k: number, classes: number): number {
  return k % classes === labelOf(i, classes) ? 200 + (i % 50) : (i * 31 + k * 17) % 60;
}

export interface IdxSet {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/**
 * Writes `train` and `test` images of h x w pixels and their labels (gzipped unless `raw`) into `dir`.
 * Global row i (training rows first) has label labelOf(i) and pixels pixelOf(i, k).
 */
export function writeIdxSet(
  dir: string,
  opts: { train: number; test: number; h: number; w: number; classes: number; raw?: boolean },
): IdxSet {
  mkdirSync(dir, { recursive: true });
  const ext = opts.raw ? '' : '.gz';
  const pack = (bytes: Uint8Array): Uint8Array => (opts.raw ? bytes : gzipSync(bytes));
  const write = (name: string, from: number, count: number): [string, string] => {
    const size = opts.h * opts.w;
    const pixels = new Uint8Array(count * size);
    for (let r = 0; r < count; r++) for (let k = 0; k < size; k++) pixels[r * size + k] = pixelOf(from + r, k, opts.classes);
    const labels = Array.from({ length: count }, (_, r) => labelOf(from + r, opts.classes));
    const images = join(dir, `${name}-images-idx3-ubyte${ext}`);
    const labelFile = join(dir, `${name}-labels-idx1-ubyte${ext}`);
    writeFileSync(images, pack(idxBytes([count, opts.h, opts.w], pixels)));
    writeFileSync(labelFile, pack(idxBytes([count], labels)));
    return [images, labelFile];
  };
  const [trainImages, trainLabels] = write('train', 0, opts.train);
  const [testImages, testLabels] = write('t10k', opts.train, opts.test);
  return { trainImages, trainLabels, testImages, testLabels };
}
