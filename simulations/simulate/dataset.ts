/** The simulated federation's data: the whole data set (the simulator alone sees it), its spec, test split and per-site slices. */
import { existsSync } from 'node:fs';
import { DEFAULT_MLP_HIDDEN, type ModelSpec } from '../../protocol/index.js';
import {
  cnnInputShape,
  loadIdxFiles,
  loadMnist,
  loadMnistFull,
  mnistSpec,
  partition,
  restrictClasses,
  rowWidth,
  splitTrainTest,
  type Dataset,
  type PartitionScheme,
} from '../../node-agent/data/index.js';
import { formatDataRef, parseImageRef, resolveDataRef, type DataRef } from '../../node-agent/data-source.js';
import { loadImageSet } from '../../node-agent/data/image-data.js';
import { siteNormalize, type ImageOptions } from '../../node-agent/data/image-options.js';
import { imageRows } from '../../node-agent/data/image-set.js';
import { prepareTabular, type LabelChoice, type NaturalPartition, type TabularOptions } from './tabular-data.js';

export type { LabelChoice } from './tabular-data.js';
import { splitBySite } from './image-sites.js';
import type { DroppedColumn } from '../../protocol/index.js';

export type { DataRef } from '../../node-agent/data-source.js';
export type { NaturalPartition, TabularOptions } from './tabular-data.js';
/** The data set a simulation runs on: the same reference its agents receive. */
export type DatasetChoice = DataRef;
export type Arch = 'logreg' | 'mlp' | 'cnn';

export interface SimulationData {
  all: Dataset;
  spec: ModelSpec;
  /** Row indices into `all`. */
  train: number[];
  test: number[];
  /** Row indices into `all`, one list per institution (a disjoint cover of `train`). */
  sites: number[][];
  /** One image's dimensions for image data ([28, 28] for MNIST); absent for tabular data. */
  imageShape?: number[];
  /** What each agent loads: the data set (paths absolute) and its training rows in it. */
  agents: { ref: DataRef; rows: number[] }[];
  /** Natural partitions: each institution's own test rows (indices into `all`; `test` is their union) and what it is. */
  institutionTests?: number[][];
  institutionNames?: string[];
  /** CSV columns left out of the dictionary (entirely missing, constant), with the reason. */
  dropped?: DroppedColumn[];
}

const FORMS =
  'mnist, mnist-full, idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS], csv:PATH[,PATH...], images:DIR or dicom:MANIFEST.csv';

/**
 * Parses `mnist`, `mnist-full`, `idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS]`, `csv:PATH[,PATH...]`
 * (several CSV files: one institution each; `path` then holds the comma-separated list), `images:DIR` or
 * `dicom:MANIFEST.csv` (these two with their image options, docs/imaging.md).
 * @example parseDataset('csv:data/wdbc.csv', 'diagnosis') // { kind: 'csv', path: 'data/wdbc.csv', label: 'diagnosis' }
 */
export function parseDataset(text: string, label?: string, image?: ImageOptions): DatasetChoice {
  if (text === 'mnist' || text === 'mnist-full') return { kind: text };
  if (text.startsWith('idx:')) {
    const paths = text.slice(4).split(',');
    if (![2, 4].includes(paths.length) || paths.some((p) => p === '')) {
      throw new Error(
        `--dataset ${text}: use idx:TRAIN_IMAGES,TRAIN_LABELS or idx:TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS (comma-separated paths)`,
      );
    }
    const missing = paths.find((p) => !existsSync(p));
    if (missing) throw new Error(`--dataset ${text}: no file ${missing}`);
    const [trainImages, trainLabels, testImages, testLabels] = paths as [string, string, string?, string?];
    return { kind: 'idx', trainImages, trainLabels, ...(testImages && testLabels ? { testImages, testLabels } : {}) };
  }
  if (text.startsWith('csv:') && text.length > 4) {
    if (!label)
      throw new Error(
        '--dataset csv:PATH needs --label COLUMN (the column that holds the class; several, comma-separated, for multilabel or regression)',
      );
    const paths = text.slice(4).split(',');
    if (paths.length > 1) {
      const bad = paths.find((p) => p === '' || !existsSync(p));
      if (bad !== undefined) throw new Error(`--dataset ${text}: ${bad === '' ? 'an empty path' : `no file ${bad}`}`);
    }
    return { kind: 'csv', path: text.slice(4), label };
  }
  const imaging = parseImageRef(text, image);
  if (imaging) return imaging;
  throw new Error(`unknown dataset "${text}": use ${FORMS}`);
}

/** The MNIST-style spec for images of any size: logreg and the 2NN on the flat pixels, the cnn on [h, w, 1]. */
function imageSpec(arch: Arch, imageShape: number[], classes: string[]): ModelSpec {
  if (arch === 'cnn') return { arch, inputShape: cnnInputShape(imageShape), classes: [...classes] };
  const inputShape = [imageShape.reduce((a, b) => a * b, 1)];
  return arch === 'mlp'
    ? { arch, inputShape, hidden: [...DEFAULT_MLP_HIDDEN], classes: [...classes] }
    : { arch, inputShape, classes: [...classes] };
}

/**
 * The spec for a data set and architecture: MNIST's digits, other images (their shape, classes from the data), or
 * the CSV's feature columns and classes. `imageShape` is one image's dimensions (default: MNIST's 28 x 28 for
 * mnist-full, flat rows for idx).
 * @example specFor({ kind: 'mnist-full' }, loadMnistFull().all, 'cnn').inputShape // [28, 28, 1]
 */
export function specFor(choice: DatasetChoice, all: Dataset, arch: Arch, imageShape?: number[]): ModelSpec {
  if (choice.kind === 'mnist') return { ...mnistSpec(arch), classes: [...all.classes] };
  if (choice.kind === 'mnist-full' || choice.kind === 'idx' || choice.kind === 'images' || choice.kind === 'dicom') {
    return imageSpec(arch, imageShape ?? (choice.kind === 'mnist-full' ? [28, 28] : [rowWidth(all)]), all.classes);
  }
  if (arch === 'cnn') throw new Error('--model cnn needs image data (mnist, mnist-full, idx, images, dicom); use logreg or mlp for a CSV');
  return {
    arch,
    inputShape: [rowWidth(all)],
    classes: all.classes,
    features: all.features,
    ...(arch === 'mlp' ? { hidden: [...DEFAULT_MLP_HIDDEN] } : {}),
    ...(all.task && all.task !== 'classification' ? { task: all.task } : {}),
  };
}

/** The image data set as loaded: every row, and with a published test split the number of training rows before it (CSV: prepareCsv). */
function load(choice: Exclude<DatasetChoice, { kind: 'csv' }>): {
  all: Dataset;
  trainRows?: number;
  imageShape?: number[];
  siteOf?: string[];
} {
  switch (choice.kind) {
    case 'mnist':
      return { all: loadMnist(), imageShape: [28, 28] };
    case 'mnist-full':
      return loadMnistFull();
    case 'idx':
      return loadIdxFiles(choice);
    case 'images':
    case 'dicom': {
      const set = loadImageSet(choice, choice.image);
      const all = {
        ...imageRows(set, Array.from(set.labels.keys()), siteNormalize(choice.image)),
        imageShape: [...set.imageShape] as [number, number, number],
      };
      return {
        all,
        imageShape: [...set.imageShape],
        ...(set.trainRows !== undefined ? { trainRows: set.trainRows } : {}),
        ...(set.sites ? { siteOf: set.sites } : {}),
      };
    }
  }
}

/** Indices of the rows whose class is one of `classes`, in order; throws naming a class the data lacks. */
function classRows(all: Dataset, classes: readonly string[]): number[] {
  const missing = classes.filter((c) => !all.classes.includes(c));
  if (missing.length)
    throw new Error(`--classes ${classes.join(',')}: ${missing.join(', ')} not among the data's classes (${all.classes.join(', ')})`);
  const wanted = new Set(classes.map((c) => all.classes.indexOf(c)));
  return Array.from(all.y.keys()).filter((i) => wanted.has(all.y[i] as number));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * Loads the data set, sets a test set aside that no agent sees, and partitions the training rows among the
 * institutions. The test set is the published one when the data set has it (mnist-full; idx with test files: every
 * test row, in order, and `testFraction` is ignored), else `testFraction` of every class chosen at random. The same
 * seed gives the same split and partition.
 * @example prepareData({ kind: 'mnist-full' }, 'mlp', 100, { kind: 'iid' }, 0).sites[0].length // 600
 */
export function prepareData(
  choice: DatasetChoice,
  arch: Arch,
  institutions: number,
  scheme: PartitionScheme,
  seed: number,
  testFraction = 0.2,
  extra: { natural?: NaturalPartition; tabular?: TabularOptions; labels?: LabelChoice; classes?: string[] } = {},
): SimulationData {
  if (choice.kind === 'csv') {
    if (extra.classes) throw new Error('--classes applies to image data (mnist, mnist-full, idx, images, dicom)');
    return prepareCsv(choice, arch, institutions, scheme, seed, testFraction, extra);
  }
  const natural = extra.natural;
  if (natural && !(choice.kind === 'dicom' && natural.kind === 'column' && natural.column === 'site')) {
    throw new Error(
      '--partition column:NAME and one file per institution need CSV data (--dataset csv:...), or column:site with a DICOM manifest that has a site column',
    );
  }
  const asked = extra.labels ?? {};
  if ((asked.task && asked.task !== 'classification') || asked.positive !== undefined) {
    throw new Error(`--task ${asked.task ?? 'binary'} and --positive need a csv data set; ${choice.kind} images are a classification`);
  }
  const loaded = load(choice);
  const { imageShape, siteOf } = loaded;
  // --classes: the rows of those classes only, relabelled; `kept` maps them back to the rows an agent loads.
  const kept = extra.classes ? classRows(loaded.all, extra.classes) : undefined;
  const all = kept ? restrictClasses(loaded.all, extra.classes as string[]) : loaded.all;
  const trainRows = kept && loaded.trainRows !== undefined ? kept.filter((i) => i < (loaded.trainRows as number)).length : loaded.trainRows;
  if (kept && natural) throw new Error('--classes and --partition column:site cannot be combined');
  const pooled = (choice.kind === 'images' || choice.kind === 'dicom') && choice.image?.normalize === 'pooled';
  // --normalize pooled: the spec asks for per-channel statistics, which the coordinator pools from the agents' summaries.
  const spec: ModelSpec = { ...specFor(choice, all, arch, imageShape), ...(pooled ? { channelNormalization: { source: 'pooled' } } : {}) };
  if (natural) {
    if (!siteOf) throw new Error(`--partition column:site: the manifest ${formatDataRef(choice)} has no site column`);
    const bySite = splitBySite(all.y, all.classes, siteOf, testFraction, seed);
    const ref = resolveDataRef(choice);
    const [train, test] = [bySite.train.flat(), bySite.test.flat()];
    return {
      all,
      spec,
      train,
      test,
      sites: bySite.train,
      agents: bySite.train.map((rows) => ({ ref, rows })),
      institutionTests: bySite.test,
      institutionNames: bySite.names,
      ...(imageShape ? { imageShape: [...imageShape] } : {}),
    };
  }
  const published = trainRows !== undefined && trainRows < all.n;
  const { train, test } = published
    ? { train: range(0, trainRows), test: range(trainRows, all.n) }
    : splitTrainTest(all, testFraction, seed);
  const labels = train.map((i) => all.y[i] as number);
  const sites = partition(labels, institutions, scheme, seed).map((rows) => rows.map((j) => train[j] as number));
  if (sites.some((rows) => rows.length === 0)) {
    throw new Error(`the partition left an institution without rows: use fewer institutions than the ${train.length} training rows allow`);
  }
  const ref = resolveDataRef(choice);
  return {
    all,
    spec,
    train,
    test,
    sites,
    agents: sites.map((rows) => ({ ref, rows: kept ? rows.map((i) => kept[i] as number) : rows })),
    ...(imageShape ? { imageShape: [...imageShape] } : {}),
  };
}

/** CSV data: the dictionary agreed from the institutions' summaries, raw columns transformed by it (tabular-data.ts). */
function prepareCsv(
  choice: Extract<DatasetChoice, { kind: 'csv' }>,
  arch: Arch,
  institutions: number,
  scheme: PartitionScheme,
  seed: number,
  testFraction: number,
  extra: { natural?: NaturalPartition; tabular?: TabularOptions; labels?: LabelChoice },
): SimulationData {
  if (arch === 'cnn') throw new Error('--model cnn needs image data (mnist, mnist-full, idx); use logreg or mlp for a CSV');
  const missing = extra.tabular?.missing ?? choice.missing;
  const t = prepareTabular(
    choice.path.split(','),
    choice.label,
    extra.natural,
    scheme,
    institutions,
    seed,
    testFraction,
    { ...extra.tabular, ...(missing ? { missing } : {}) },
    extra.labels ?? {},
  );
  const spec: ModelSpec = {
    ...specFor(choice, t.all, arch),
    preprocessing: t.preprocessing,
  };
  const { all, train, test, sites, agents, dropped, institutionTests, institutionNames } = t;
  return { all, spec, train, test, sites, agents, dropped, ...(institutionTests ? { institutionTests, institutionNames } : {}) };
}
