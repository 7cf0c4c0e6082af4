/** One SGD step of K institutions in one computation: each institution's own weights and minibatch, no tfjs Layers or autodiff. */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { LayerLayout } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';
import { backwardAndUpdate, forward } from './batched-layers.js';

const EPSILON = 1e-7; // tfjs's clip for cross-entropy, as trainOnBatch's categoricalCrossentropy

/** One institution's minibatch this step: x [r, ...inputShape] and one-hot y [r, C]. */
export interface Minibatch {
  x: Tensor;
  y: Tensor2D;
}

/** The new weights of every institution (the same tensors for one without a batch this step) and, per institution, the step's summed cross-entropy and correct rows. */
export interface StepOutputs {
  params: Tensor[][];
  /** [K]: zero for an institution without a batch this step. */
  lossSum: Tensor;
  correct: Tensor;
}

/**
 * dL/d(logits) of tfjs's categorical cross-entropy on softmax outputs, mean over the batch: (q − y)/r with q the
 * renormalised softmax, zero for a row whose true-class probability tfjs's clip cut (its gradient is zero there).
 * Also the batch's summed clipped cross-entropy and its correct predictions.
 */
function lossGrad(tf: TF, logits: Tensor2D, y: Tensor2D): { dLogits: Tensor; lossSum: Tensor; correct: Tensor } {
  const p = tf.softmax(logits);
  const q = tf.div(p, tf.sum(p, -1, true));
  const trueProb = tf.sum(tf.mul(q, y), -1, true);
  const clipped = tf.clipByValue(trueProb, EPSILON, 1 - EPSILON);
  const unclipped = tf.cast(tf.equal(clipped, trueProb), 'float32');
  const rows = logits.shape[0];
  const dLogits = tf.mul(tf.sub(q, y), tf.mul(unclipped, 1 / rows));
  const correct = tf.sum(tf.cast(tf.equal(tf.argMax(y, -1), tf.argMax(p, -1)), 'float32'));
  return { dLogits, lossSum: tf.neg(tf.sum(tf.log(clipped))), correct };
}

/**
 * Step s of every institution at once: institution i trains on `batches[i]` (none: its weights stay as they are).
 * The caller disposes the old weights of the institutions that had a batch.
 * @example const { params: next, lossSum } = institutionsStep(tf, layersOf(spec), params, [batchA, undefined], 0.05);
 */
export function institutionsStep(
  tf: TF,
  layers: LayerLayout[],
  params: Tensor[][],
  batches: (Minibatch | undefined)[],
  learningRate: number,
): StepOutputs {
  return tf.tidy(() => {
    const zero = tf.scalar(0);
    const losses: Tensor[] = [];
    const corrects: Tensor[] = [];
    const next = params.map((own, i) => {
      const batch = batches[i];
      if (!batch) {
        losses.push(zero);
        corrects.push(zero);
        return own;
      }
      // Each institution's intermediates are freed before the next one's step: the heap stays one step's size.
      const kept = tf.tidy(() => {
        const { logits, saved } = forward(tf, layers, own, batch.x);
        const g = lossGrad(tf, logits, batch.y);
        return [g.lossSum, g.correct, ...backwardAndUpdate(tf, saved, own, g.dLogits, learningRate)];
      });
      losses.push(kept[0] as Tensor);
      corrects.push(kept[1] as Tensor);
      return kept.slice(2);
    });
    return { params: next, lossSum: tf.stack(losses), correct: tf.stack(corrects) };
  });
}
