/** Data sources named by a DataRef (mnist, mnist-full, idx, csv) and the agent's --data forms. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataSourceFor, formatDataRef, parseDataSource, resolveDataRef, type DataRef } from '../../node-agent/index.js';
import { labelHistogram, loadMnist, loadMnistFull, mnistSpec, selectRows } from '../../node-agent/data/index.js';
import type { ModelSpec } from '../../protocol/index.js';
import { writeIdxSet, type IdxSet } from './data/idx-files.js';

const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const CLASSES4 = ['0', '1', '2', '3'];

let dir: string;
let files: IdxSet;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-data-source-'));
  files = writeIdxSet(join(dir, 'set'), { train: 12, test: 6, h: 4, w: 3, classes: 4 });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('dataSourceFor', () => {
  it('loads the given rows of an idx set (training rows, then test rows): flat for logreg, [h, w, 1] for a cnn', () => {
    const ref: DataRef = { kind: 'idx', ...files };
    const rows = [13, 2, 17];
    const logreg: ModelSpec = { arch: 'logreg', inputShape: [12], classes: CLASSES4 };
    const cnn: ModelSpec = { arch: 'cnn', inputShape: [4, 3, 1], classes: CLASSES4 };

    const flat = dataSourceFor(ref, rows).load(logreg);
    const image = dataSourceFor(ref, rows).load(cnn);
    const whole = dataSourceFor(ref).load(logreg);

    expect(flat.n).toBe(3);
    expect(flat.inputShape).toEqual([12]);
    expect(image.inputShape).toEqual([4, 3, 1]);
    expect(image.x).toEqual(flat.x);
    expect(flat).toEqual(selectRows(whole, rows));
    expect(whole.n).toBe(18);
    expect(dataSourceFor(ref, rows).description).toContain('3 rows');
  });

  it('refuses a spec whose classes or input size are not those of the images (SHAPE_MISMATCH)', () => {
    const ref: DataRef = { kind: 'idx', trainImages: files.trainImages, trainLabels: files.trainLabels };

    expect(() => dataSourceFor(ref).load({ arch: 'logreg', inputShape: [12], classes: ['0', '1'] })).toThrow(
      expect.objectContaining({
        code: 'SHAPE_MISMATCH',
        message: expect.stringMatching(/classes \(0, 1\) are not the classes of idx:.* \(0, 1, 2, 3\)/),
      }),
    );
    expect(() => dataSourceFor(ref, [0]).load({ arch: 'logreg', inputShape: [784], classes: CLASSES4 })).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', message: expect.stringMatching(/takes 784 inputs, the images of .* are 4x3/) }),
    );
  });

  it("relabels a site's rows when the study takes some of the data's classes (--classes) and every row is one of them", () => {
    const ref: DataRef = { kind: 'idx', trainImages: files.trainImages, trainLabels: files.trainLabels };
    const whole = dataSourceFor(ref).load({ arch: 'logreg', inputShape: [12], classes: CLASSES4 });
    const rows = Array.from(whole.y.keys()).filter((i) => whole.y[i] === 2 || whole.y[i] === 3);

    const site = dataSourceFor(ref, rows).load({ arch: 'logreg', inputShape: [12], classes: ['3', '2'] });

    expect(site.classes).toEqual(['3', '2']);
    expect(Array.from(site.y)).toEqual(rows.map((i) => (whole.y[i] === 3 ? 0 : 1)));
    expect(site.x).toEqual(selectRows(whole, rows).x);
  });

  it('gives mnist-full rows by their index in the 70,000 (60,000 training digits first) and MNIST digits as before', () => {
    const { all } = loadMnistFull();

    const cnn = dataSourceFor({ kind: 'mnist-full' }, [0, 60_000]).load(mnistSpec('cnn'));
    const digits = dataSourceFor({ kind: 'mnist' }, [0, 9999]).load(mnistSpec('logreg'));

    expect(cnn.inputShape).toEqual([28, 28, 1]);
    expect(Array.from(cnn.y)).toEqual([5, 7]);
    expect(cnn.x).toEqual(selectRows(all, [0, 60_000]).x);
    expect(digits).toEqual(selectRows(loadMnist(), [0, 9999]));
  });

  it('loads csv rows with the spec choosing the columns', () => {
    const path = join(dir, 'tiny.csv');
    writeFileSync(path, 'a,label,b\n1,x,2\n3,y,4\n5,x,6\n');

    const ds = dataSourceFor({ kind: 'csv', path, label: 'label' }, [2, 0]).load({
      arch: 'logreg',
      inputShape: [2],
      classes: ['x', 'y'],
      features: ['b', 'a'],
    });

    expect(Array.from(ds.x)).toEqual([6, 5, 2, 1]);
    expect(Array.from(ds.y)).toEqual([0, 0]);
  });
});

describe('formatDataRef and resolveDataRef', () => {
  it('write the --dataset form and make relative paths absolute, leaving absolute ones', () => {
    const ref: DataRef = { kind: 'idx', trainImages: 'a.gz', trainLabels: '/abs/b.gz', testImages: 'c', testLabels: 'd' };

    expect(formatDataRef(ref)).toBe('idx:a.gz,/abs/b.gz,c,d');
    expect(formatDataRef({ kind: 'mnist-full' })).toBe('mnist-full');
    expect(formatDataRef({ kind: 'csv', path: 'x.csv', label: 'y' })).toBe('csv:x.csv');
    expect(resolveDataRef(ref, '/srv')).toEqual({
      kind: 'idx',
      trainImages: '/srv/a.gz',
      trainLabels: '/abs/b.gz',
      testImages: '/srv/c',
      testLabels: '/srv/d',
    });
    expect(resolveDataRef({ kind: 'csv', path: 'x.csv', label: 'y' }, '/srv')).toEqual({ kind: 'csv', path: '/srv/x.csv', label: 'y' });
    expect(resolveDataRef({ kind: 'mnist' }, '/srv')).toEqual({ kind: 'mnist' });
  });
});

describe('parseDataSource', () => {
  it('mnist-full:K/N gives the K-th of N disjoint IID slices of the 60,000 training digits', () => {
    const spec = mnistSpec('logreg');

    const slices = [1, 2, 3, 4].map((k) => parseDataSource(`mnist-full:${k}/4`).load(spec));

    expect(slices.map((ds) => ds.n)).toEqual([15_000, 15_000, 15_000, 15_000]);
    const perClass = slices.map((ds) => labelHistogram(ds)).reduce((sum, h) => sum.map((v, c) => v + (h[c] as number)));
    expect(perClass).toEqual(TRAIN_COUNTS);
    expect(parseDataSource('mnist-full').description).toBe('mnist-full (all rows)');
  });

  it('idx:IMAGES,LABELS loads the files (gzipped or raw)', () => {
    const raw = writeIdxSet(join(dir, 'raw'), { train: 5, test: 1, h: 2, w: 2, classes: 2, raw: true });

    const gz = parseDataSource(`idx:${files.trainImages},${files.trainLabels}`).load({
      arch: 'logreg',
      inputShape: [12],
      classes: CLASSES4,
    });
    const plain = parseDataSource(`idx:${raw.trainImages},${raw.trainLabels}`).load({
      arch: 'cnn',
      inputShape: [2, 2, 1],
      classes: ['0', '1'],
    });

    expect(gz.n).toBe(12);
    expect(plain.n).toBe(5);
    expect(plain.inputShape).toEqual([2, 2, 1]);
  });

  it('refuses bad forms with the forms it takes', () => {
    expect(() => parseDataSource(`idx:${files.trainImages}`)).toThrow(/use idx:TRAIN_IMAGES,TRAIN_LABELS \(two comma-separated paths\)/);
    expect(() => parseDataSource(`idx:${files.trainImages},${join(dir, 'missing')}`)).toThrow(/no file .*missing/);
    expect(() => parseDataSource('mnist-full:5/4')).toThrow(/bad slice mnist-full:5\/4/);
    expect(() => parseDataSource('csv:x.csv')).toThrow(/needs --label/);
    expect(() => parseDataSource('fashion')).toThrow(
      'unknown data source "fashion": use mnist, mnist:K/N, mnist-full, mnist-full:K/N, idx:TRAIN_IMAGES,TRAIN_LABELS, csv:PATH, images:DIR or dicom:MANIFEST.csv',
    );
  });
});
