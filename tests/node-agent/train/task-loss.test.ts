/** Each task's loss, batch accuracy, class weights and optimizers, against values worked out by hand. */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import type { Task } from '../../../protocol/index.js';
import { balancedClassWeights, makeOptimizer, selectBackend, taskAccuracy, taskLoss, type TF } from '../../../node-agent/train/index.js';

const scalar = (t: Tensor): number => (t.dataSync() as Float32Array)[0] as number;

async function cpu(): Promise<TF> {
  return (await selectBackend('cpu')).tf;
}

/** Outputs and labels, row-major with `cols` columns. */
interface Rows {
  outputs: number[];
  labels: number[];
  cols: number;
}
/** Two rows of two-class softmax outputs and their one-hot labels: row 1 right at 0.7, row 2 wrong (0.4 on its class). */
const softmax: Rows = { outputs: [0.7, 0.3, 0.6, 0.4], labels: [1, 0, 0, 1], cols: 2 };
/** Two rows of two independent sigmoid outputs and their 0/1 labels. */
const multilabel: Rows = { outputs: [0.9, 0.2, 0.5, 0.25], labels: [1, 0, 0, 1], cols: 2 };

/** The rows' outputs and labels as 2-D tensors. */
const tensors = (tf: TF, r: Rows): [Tensor, Tensor] => [
  tf.tensor2d(r.outputs, [r.outputs.length / r.cols, r.cols]),
  tf.tensor2d(r.labels, [r.labels.length / r.cols, r.cols]),
];

/** taskLoss's cases: the test's name, the task, its rows and sample weights, the loss worked out by hand and to how many digits. */
const lossCases: Array<{ name: string; task: Task; rows: Rows; weights?: number[]; expected: number; digits: number }> = [
  {
    name: 'classification: mean categorical cross-entropy of the softmax outputs',
    task: 'classification',
    rows: softmax,
    // -(ln 0.7 + ln 0.4) / 2
    expected: -(Math.log(0.7) + Math.log(0.4)) / 2,
    digits: 5,
  },
  {
    name: 'binary: binary cross-entropy of the one sigmoid output',
    task: 'binary',
    rows: { outputs: [0.8, 0.3], labels: [1, 0], cols: 1 },
    // -(ln 0.8 + ln(1 - 0.3)) / 2
    expected: -(Math.log(0.8) + Math.log(0.7)) / 2,
    digits: 5,
  },
  {
    name: 'multilabel: binary cross-entropy averaged over the labels, then over rows',
    task: 'multilabel',
    rows: multilabel,
    // row 1: -(ln 0.9 + ln 0.8) / 2; row 2: -(ln 0.5 + ln 0.25) / 2
    expected: (-(Math.log(0.9) + Math.log(0.8)) / 2 - (Math.log(0.5) + Math.log(0.25)) / 2) / 2,
    digits: 5,
  },
  {
    name: 'regression: mean squared error over targets and rows',
    task: 'regression',
    // errors (1-2)^2 = 1, (3-3)^2 = 0, (0-2)^2 = 4, (1-0)^2 = 1 -> row means 0.5, 2.5 -> 1.5
    rows: { outputs: [1, 3, 0, 1], labels: [2, 3, 2, 0], cols: 2 },
    expected: 1.5,
    digits: 6,
  },
  {
    name: 'weights each row by its sample weight (sum of w_i · loss_i over rows)',
    task: 'regression',
    // row losses 1 and 4 (squared errors), weights 0.5 and 2: (0.5 + 8) / 2 = 4.25
    rows: { outputs: [1, 2], labels: [0, 0], cols: 1 },
    weights: [0.5, 2],
    expected: 4.25,
    digits: 6,
  },
];

describe('taskLoss', () => {
  for (const { name, task, rows, weights, expected, digits } of lossCases)
    it(name, async () => {
      const tf = await cpu();

      const loss = taskLoss(tf, task, ...tensors(tf, rows), weights && tf.tensor1d(weights));

      expect(scalar(loss)).toBeCloseTo(expected, digits);
    });
});

describe('taskAccuracy', () => {
  it('reads argmax for classification, 0.5 for binary and multilabel, nothing for regression', async () => {
    const tf = await cpu();
    const accuracy = (task: Task, rows: Rows) => taskAccuracy(tf, task, ...tensors(tf, rows));

    expect(scalar(accuracy('classification', softmax) as Tensor)).toBe(0.5);
    expect(scalar(accuracy('binary', { outputs: [0.8, 0.6], labels: [1, 0], cols: 1 }) as Tensor)).toBe(0.5);
    expect(scalar(accuracy('multilabel', multilabel) as Tensor)).toBe(0.5);
    expect(accuracy('regression', { outputs: [1], labels: [1], cols: 1 })).toBeNull();
  });
});

describe('balancedClassWeights and makeOptimizer', () => {
  it('weights classes n / (k · n_c), an absent class 0', () => {
    // n = 100, k = 2: 100 / (2 · 90), 100 / (2 · 10)
    expect(balancedClassWeights([90, 10])).toEqual([100 / 180, 5]);
    expect(balancedClassWeights([4, 0, 4])).toEqual([8 / 12, 0, 8 / 12]);
  });

  it('makes the optimizer the config names, plain SGD by default', async () => {
    const tf = await cpu();
    const base = { localEpochs: 1, batchSize: 1, learningRate: 0.1 };
    expect(makeOptimizer(tf, base).getClassName()).toBe('SGD');
    expect(makeOptimizer(tf, { ...base, optimizer: 'momentum' }).getClassName()).toBe('Momentum');
    expect(makeOptimizer(tf, { ...base, optimizer: 'adam' }).getClassName()).toBe('Adam');
  });
});
