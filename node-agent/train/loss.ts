/** Each task's training loss and batch accuracy on TensorFlow.js tensors, and the optimizers a study may ask for. */
import type { Optimizer, Scalar, Tensor } from '@tensorflow/tfjs';
import type { Task } from '../../protocol/model-spec.js';
import type { TrainConfig } from '../../protocol/messages.js';
import type { TF } from './backend.js';

const EPSILON = 1e-7; // tfjs's clip for cross-entropy

/**
 * The per-row loss of a task: categorical cross-entropy of softmax outputs against one-hot rows (classification),
 * binary cross-entropy of the sigmoid output (binary), the mean binary cross-entropy over the labels (multilabel),
 * or the mean squared error over the targets (regression). Probabilities are clipped to [1e-7, 1 - 1e-7] as tfjs
 * clips them. Returns a [rows] tensor.
 */
export function rowLoss(tf: TF, task: Task, output: Tensor, ys: Tensor): Tensor {
  if (task === 'classification') {
    const probs = tf.clipByValue(tf.div(output, tf.sum(output, -1, true)), EPSILON, 1 - EPSILON);
    return tf.neg(tf.sum(tf.mul(ys, tf.log(probs)), -1));
  }
  if (task === 'regression') return tf.mean(tf.square(tf.sub(output, ys)), -1);
  const p = tf.clipByValue(output, EPSILON, 1 - EPSILON);
  const ce = tf.add(tf.mul(ys, tf.log(p)), tf.mul(tf.sub(1, ys), tf.log(tf.sub(1, p))));
  return tf.neg(tf.mean(ce, -1));
}

/**
 * The batch's loss: the mean of `rowLoss` over rows, each row's loss times its sample weight when weights are given
 * (Keras' convention: sum(w_i · loss_i) / rows).
 * @example const loss = taskLoss(tf, 'regression', tf.tensor2d([[1], [3]]), tf.tensor2d([[2], [3]])) // 0.5
 */
export function taskLoss(tf: TF, task: Task, output: Tensor, ys: Tensor, sampleWeights?: Tensor): Scalar {
  const rows = rowLoss(tf, task, output, ys);
  return (sampleWeights ? tf.mean(tf.mul(rows, sampleWeights)) : tf.mean(rows)) as Scalar;
}

/**
 * The batch's accuracy: argmax agreement (classification), agreement at 0.5 (binary), mean per-label agreement at
 * 0.5 (multilabel); null for regression, which has none.
 */
export function taskAccuracy(tf: TF, task: Task, output: Tensor, ys: Tensor): Scalar | null {
  if (task === 'regression') return null;
  if (task === 'classification') return tf.mean(tf.cast(tf.equal(tf.argMax(ys, -1), tf.argMax(output, -1)), 'float32')) as Scalar;
  return tf.mean(tf.cast(tf.equal(tf.greaterEqual(output, 0.5), tf.greaterEqual(ys, 0.5)), 'float32')) as Scalar;
}

/**
 * The round's optimizer, new each round (no state carries between rounds): plain SGD, SGD with heavy-ball momentum
 * (default 0.9) or Adam (tfjs defaults: beta1 0.9, beta2 0.999, epsilon 1e-7).
 * @example const opt = makeOptimizer(tf, { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam' })
 */
export function makeOptimizer(tf: TF, config: TrainConfig): Optimizer {
  if (config.optimizer === 'momentum') return tf.train.momentum(config.learningRate, config.momentum ?? 0.9);
  if (config.optimizer === 'adam') return tf.train.adam(config.learningRate);
  return tf.train.sgd(config.learningRate);
}

/**
 * Balanced class weights n / (k · n_c) from label counts (a class with no rows weighs 0).
 * @example balancedClassWeights([90, 10]) // [0.5556, 5]
 */
export function balancedClassWeights(counts: readonly number[]): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (c > 0 ? n / (counts.length * c) : 0));
}
