/** The simulated federation's data: the whole data set (the simulator alone sees it), its spec, test split and per-site slices. */
import type { ModelSpec } from '../../protocol/index.js';
import {
  loadCsv,
  loadMnist,
  mnistSpec,
  partition,
  splitTrainTest,
  type Dataset,
  type PartitionScheme,
} from '../../node-agent/data/index.js';

export type DatasetChoice = { kind: 'mnist' } | { kind: 'csv'; path: string; label: string };
export type Arch = 'logreg' | 'mlp' | 'cnn';

export interface SimulationData {
  all: Dataset;
  spec: ModelSpec;
  /** Row indices into `all`. */
  train: number[];
  test: number[];
  /** Row indices into `all`, one list per institution (a disjoint cover of `train`). */
  sites: number[][];
}

/**
 * Parses `mnist` or `csv:PATH`.
 * @example parseDataset('csv:data/wdbc.csv', 'diagnosis') // { kind: 'csv', path: 'data/wdbc.csv', label: 'diagnosis' }
 */
export function parseDataset(text: string, label?: string): DatasetChoice {
  if (text === 'mnist') return { kind: 'mnist' };
  if (text.startsWith('csv:') && text.length > 4) {
    if (!label) throw new Error('--dataset csv:PATH needs --label COLUMN (the column that holds the class)');
    return { kind: 'csv', path: text.slice(4), label };
  }
  throw new Error(`unknown dataset "${text}": use mnist or csv:PATH`);
}

/** The spec for a data set and architecture: MNIST's digits, or the CSV's feature columns and classes. */
export function specFor(choice: DatasetChoice, all: Dataset, arch: Arch): ModelSpec {
  if (choice.kind === 'mnist') return mnistSpec(arch);
  if (arch === 'cnn') throw new Error('--model cnn needs image data (mnist); use logreg or mlp for a CSV');
  return {
    arch,
    inputShape: [all.inputShape.reduce((a, b) => a * b, 1)],
    classes: all.classes,
    features: all.features,
    ...(arch === 'mlp' ? { hidden: [200, 200] } : {}),
  };
}

/**
 * Loads the data set, keeps `testFraction` of every class aside as a test set no agent sees, and
 * partitions the rest among the institutions; the same seed gives the same split and partition.
 */
export function prepareData(choice: DatasetChoice, arch: Arch, institutions: number, scheme: PartitionScheme, seed: number, testFraction = 0.2): SimulationData {
  const all = choice.kind === 'mnist' ? loadMnist() : loadCsv(choice.path, { label: choice.label });
  const spec = specFor(choice, all, arch);
  const { train, test } = splitTrainTest(all, testFraction, seed);
  const labels = train.map((i) => all.y[i] as number);
  const sites = partition(labels, institutions, scheme, seed).map((rows) => rows.map((j) => train[j] as number));
  if (sites.some((rows) => rows.length === 0)) {
    throw new Error(`the partition left an institution without rows: use fewer institutions than the ${train.length} training rows allow`);
  }
  return { all, spec, train, test, sites };
}
