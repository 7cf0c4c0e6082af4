/** Each task's loss, batch accuracy, class weights and optimizers, against values worked out by hand. */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { balancedClassWeights, makeOptimizer, selectBackend, taskAccuracy, taskLoss, type TF } from '../../../node-agent/train/index.js';

const scalar = (t: Tensor): number => (t.dataSync() as Float32Array)[0] as number;

async function cpu(): Promise<TF> {
  return (await selectBackend('cpu')).tf;
}

describe('taskLoss', () => {
  it('classification: mean categorical cross-entropy of the softmax outputs', async () => {
    const tf = await cpu();
    // -(ln 0.7 + ln 0.4) / 2
    const loss = taskLoss(
      tf,
      'classification',
      tf.tensor2d([
        [0.7, 0.3],
        [0.6, 0.4],
      ]),
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
    );
    expect(scalar(loss)).toBeCloseTo(-(Math.log(0.7) + Math.log(0.4)) / 2, 5);
  });

  it('binary: binary cross-entropy of the one sigmoid output', async () => {
    const tf = await cpu();
    // -(ln 0.8 + ln(1 - 0.3)) / 2
    const loss = taskLoss(tf, 'binary', tf.tensor2d([[0.8], [0.3]]), tf.tensor2d([[1], [0]]));
    expect(scalar(loss)).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7)) / 2, 5);
  });

  it('multilabel: binary cross-entropy averaged over the labels, then over rows', async () => {
    const tf = await cpu();
    // row 1: -(ln 0.9 + ln 0.8) / 2; row 2: -(ln 0.5 + ln 0.25) / 2
    const loss = taskLoss(
      tf,
      'multilabel',
      tf.tensor2d([
        [0.9, 0.2],
        [0.5, 0.25],
      ]),
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
    );
    const expected = (-(Math.log(0.9) + Math.log(0.8)) / 2 - (Math.log(0.5) + Math.log(0.25)) / 2) / 2;
    expect(scalar(loss)).toBeCloseTo(expected, 5);
  });

  it('regression: mean squared error over targets and rows', async () => {
    const tf = await cpu();
    // errors (1-2)^2 = 1, (3-3)^2 = 0, (0-2)^2 = 4, (1-0)^2 = 1 -> row means 0.5, 2.5 -> 1.5
    const loss = taskLoss(
      tf,
      'regression',
      tf.tensor2d([
        [1, 3],
        [0, 1],
      ]),
      tf.tensor2d([
        [2, 3],
        [2, 0],
      ]),
    );
    expect(scalar(loss)).toBeCloseTo(1.5, 6);
  });

  it('weights each row by its sample weight (sum of w_i · loss_i over rows)', async () => {
    const tf = await cpu();
    // row losses 1 and 4 (squared errors), weights 0.5 and 2: (0.5 + 8) / 2 = 4.25
    const loss = taskLoss(tf, 'regression', tf.tensor2d([[1], [2]]), tf.tensor2d([[0], [0]]), tf.tensor1d([0.5, 2]));
    expect(scalar(loss)).toBeCloseTo(4.25, 6);
  });
});

describe('taskAccuracy', () => {
  it('reads argmax for classification, 0.5 for binary and multilabel, nothing for regression', async () => {
    const tf = await cpu();
    expect(
      scalar(
        taskAccuracy(
          tf,
          'classification',
          tf.tensor2d([
            [0.7, 0.3],
            [0.6, 0.4],
          ]),
          tf.tensor2d([
            [1, 0],
            [0, 1],
          ]),
        ) as Tensor,
      ),
    ).toBe(0.5);
    expect(scalar(taskAccuracy(tf, 'binary', tf.tensor2d([[0.8], [0.6]]), tf.tensor2d([[1], [0]])) as Tensor)).toBe(0.5);
    expect(
      scalar(
        taskAccuracy(
          tf,
          'multilabel',
          tf.tensor2d([
            [0.9, 0.2],
            [0.5, 0.25],
          ]),
          tf.tensor2d([
            [1, 0],
            [0, 1],
          ]),
        ) as Tensor,
      ),
    ).toBe(0.5);
    expect(taskAccuracy(tf, 'regression', tf.tensor2d([[1]]), tf.tensor2d([[1]]))).toBeNull();
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
