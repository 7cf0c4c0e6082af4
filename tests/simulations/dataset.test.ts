/** The simulator's data: --dataset forms, specs for image and tabular data, and test sets (published or drawn) with per-site partitions. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { dataSourceFor } from '../../node-agent/index.js';
import { loadMnistFull, parsePartition, selectRows } from '../../node-agent/data/index.js';
import { parseDataset, prepareData, specFor, type DataRef } from '../../simulations/simulate/dataset.js';
import { writeIdxSet, type IdxSet } from '../node-agent/data/idx-files.js';
import { runCli } from './cli-helpers.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const sorted = (rows: number[][]): number[] => rows.flat().sort((a, b) => a - b);

let dir: string;
let files: IdxSet;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-dataset-'));
  files = writeIdxSet(join(dir, 'small'), { train: 120, test: 30, h: 4, w: 3, classes: 3 });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('parseDataset', () => {
  it('takes mnist, mnist-full, idx with two or four paths, and csv:PATH with a label', () => {
    const { trainImages: a, trainLabels: b, testImages: c, testLabels: d } = files;

    expect(parseDataset('mnist')).toEqual({ kind: 'mnist' });
    expect(parseDataset('mnist-full')).toEqual({ kind: 'mnist-full' });
    expect(parseDataset(`idx:${a},${b}`)).toEqual({ kind: 'idx', trainImages: a, trainLabels: b });
    expect(parseDataset(`idx:${a},${b},${c},${d}`)).toEqual({ kind: 'idx', trainImages: a, trainLabels: b, testImages: c, testLabels: d });
    expect(parseDataset('csv:x.csv', 'y')).toEqual({ kind: 'csv', path: 'x.csv', label: 'y' });
  });

  it('refuses three paths, missing files and unknown names, listing the forms', () => {
    expect(() => parseDataset(`idx:${files.trainImages},${files.trainLabels},${files.testImages}`)).toThrow(
      /use idx:TRAIN_IMAGES,TRAIN_LABELS or idx:TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS/,
    );
    expect(() => parseDataset(`idx:${files.trainImages},${join(dir, 'nope')}`)).toThrow(/no file .*nope/);
    expect(() => parseDataset('kmnist')).toThrow(
      'unknown dataset "kmnist": use mnist, mnist-full, idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS], csv:PATH[,PATH...], images:DIR or dicom:MANIFEST.csv',
    );
  });
});

describe('specFor', () => {
  it("gives image data MNIST's specs on their own shape and classes, and refuses a cnn on a CSV", () => {
    const { all } = loadMnistFull();
    const csv: DataRef = { kind: 'csv', path: 'x.csv', label: 'y' };

    expect(specFor({ kind: 'mnist-full' }, all, 'cnn')).toEqual({ arch: 'cnn', inputShape: [28, 28, 1], classes: all.classes });
    expect(specFor({ kind: 'mnist-full' }, all, 'mlp')).toEqual({
      arch: 'mlp',
      inputShape: [784],
      hidden: [200, 200],
      classes: all.classes,
    });
    expect(specFor({ kind: 'idx', ...files }, { ...all, classes: ['0', '1', '2'] }, 'cnn', [4, 3])).toMatchObject({
      inputShape: [4, 3, 1],
      classes: ['0', '1', '2'],
    });
    expect(() => specFor(csv, all, 'cnn')).toThrow(/--model cnn needs image data/);
  });
});

describe('prepareData', () => {
  it("mnist-full: LeCun's 10,000 test digits are the test set, in order, and 100 sites share the 60,000 training digits, 600 each", () => {
    const data = prepareData({ kind: 'mnist-full' }, 'mlp', 100, parsePartition('iid'), 0);

    expect(data.all.n).toBe(70_000);
    expect(data.test).toEqual(range(60_000, 70_000));
    expect(data.train).toEqual(range(0, 60_000));
    expect(data.sites).toHaveLength(100);
    expect(data.sites.every((rows) => rows.length === 600)).toBe(true);
    expect(sorted(data.sites)).toEqual(range(0, 60_000));
    expect(data.spec).toMatchObject({ arch: 'mlp', inputShape: [784] });
    expect(data.imageShape).toEqual([28, 28]);
  });

  it('idx with test files: the test files are the test set, only the training rows are partitioned, the same seed gives the same sites', () => {
    const ref: DataRef = { kind: 'idx', ...files };

    const data = prepareData(ref, 'cnn', 4, parsePartition('dirichlet:0.5'), 3);
    const again = prepareData(ref, 'cnn', 4, parsePartition('dirichlet:0.5'), 3);

    expect(data.test).toEqual(range(120, 150));
    expect(sorted(data.sites)).toEqual(range(0, 120));
    expect(again.sites).toEqual(data.sites);
    expect(data.spec).toEqual({ arch: 'cnn', inputShape: [4, 3, 1], classes: ['0', '1', '2'] });
    const site = dataSourceFor(ref, data.sites[0]).load(data.spec);
    expect(site.inputShape).toEqual([4, 3, 1]);
    expect(site.x).toEqual(selectRows(data.all, data.sites[0]!).x);
    expect(site.y).toEqual(selectRows(data.all, data.sites[0]!).y);
  });

  it('idx without test files and mnist: a stratified test set of testFraction drawn with the seed, as before', () => {
    const ref: DataRef = { kind: 'idx', trainImages: files.trainImages, trainLabels: files.trainLabels };

    const data = prepareData(ref, 'logreg', 3, parsePartition('iid'), 1, 0.25);
    const mnist = prepareData({ kind: 'mnist' }, 'logreg', 5, parsePartition('iid'), 1);

    expect(data.all.n).toBe(120);
    expect(data.test).toHaveLength(30);
    expect(data.test).not.toEqual(range(90, 120));
    expect(sorted([data.train, data.test])).toEqual(range(0, 120));
    expect(sorted(data.sites)).toEqual(data.train);
    expect(data.spec.inputShape).toEqual([12]);
    expect(mnist.test).toHaveLength(2000);
    expect(prepareData({ kind: 'mnist' }, 'logreg', 5, parsePartition('iid'), 1).sites).toEqual(mnist.sites);
  });
});

describe('cohort simulate --dataset idx:... (relative paths, 2 institutions in their own processes, 1 round)', () => {
  it('trains on the IDX files, tests on the published test rows and tells the sites the data are images', async () => {
    const out = join(dir, 'run');
    const paths = [files.trainImages, files.trainLabels, files.testImages, files.testLabels].map((p) => relative(dir, p));

    const result = await runCli(
      [
        'simulate',
        '--out',
        out,
        '--dataset',
        `idx:${paths.join(',')}`,
        '--institutions',
        '2',
        '--rounds',
        '1',
        '--model',
        'logreg',
        '--local-epochs',
        '1',
        '--workers',
        '0',
        '--backend',
        'cpu',
      ],
      { cwd: dir, timeoutMs: 60_000 },
    );

    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`idx:${paths.join(',')}, logreg`);
    expect(result.stdout).toContain('Data: 150 rows, 120 shared out among the institutions, 30 held out');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      rounds: { participants: number }[];
      final: { report: Record<string, { support: number }> };
    };
    expect(summary.rounds.map((r) => r.participants)).toEqual([2]);
    expect(Object.values(summary.final.report).reduce((n, c) => n + c.support, 0)).toBe(30);
    const store = openSqliteStore(join(out, 'coordinator.db'));
    try {
      expect(store.getFederation('simulation')!.manifest.dataCategories).toEqual(['images']);
    } finally {
      store.close();
    }
  });
});
