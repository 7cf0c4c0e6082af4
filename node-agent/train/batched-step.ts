/** One SGD step of K institutions at once: weights stacked on a leading K axis, each institution's own minibatch. */
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import type { LayerLayout } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';

const EPSILON = 1e-7; // tfjs's clip for cross-entropy, as trainOnBatch's categoricalCrossentropy

/** A step's inputs: x [K, B, ...inputShape], one-hot y [K, B, C], row weights w [K, B, 1] (1/r per real row, 0 for padding). */
export interface StepInputs {
  x: Tensor;
  y: Tensor;
  w: Tensor;
}

/** The new stacked weights (tensorLayout order) and, per institution, the step's summed cross-entropy and correct rows [K]. */
export interface StepOutputs {
  params: Tensor[];
  lossSum: Tensor;
  correct: Tensor;
}

/** Per institution [K]: the sum over real rows of tfjs's clipped cross-entropy, and how many real rows were predicted right. */
function stepStats(tf: TF, probs: Tensor, y: Tensor, w: Tensor): { lossSum: Tensor; correct: Tensor } {
  const real = tf.cast(tf.greater(tf.squeeze(w, [2]), 0), 'float32');
  const q = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), EPSILON, 1 - EPSILON);
  const ce = tf.neg(tf.sum(tf.mul(y, tf.log(q)), -1));
  const hits = tf.cast(tf.equal(tf.argMax(y, -1), tf.argMax(probs, -1)), 'float32');
  return { lossSum: tf.sum(tf.mul(ce, real), -1), correct: tf.sum(tf.mul(hits, real), -1) };
}

/**
 * Dense nets (logreg, the 2NN): forward with batched matMul, then the backward pass written out by hand, which is
 * what tfjs's autodiff of trainOnBatch computes: d(mean CE)/d(logits) = (softmax − onehot)/r, zero for a row whose
 * true-class probability tfjs's clip cut (its clipByValue gradient is zero there); ReLU passes the gradient where its
 * input was > 0. The update is tfjs's SGD: w + (−lr)·g.
 */
export function denseStep(tf: TF, layers: LayerLayout[], params: Tensor[], inputs: StepInputs, learningRate: number): StepOutputs {
  return tf.tidy(() => {
    const [k, b] = inputs.x.shape as [number, number];
    const acts: Tensor[] = [tf.reshape(inputs.x, [k, b, -1])];
    let probs: Tensor | undefined;
    layers.forEach((layer, i) => {
      const z = tf.add(tf.matMul(acts[i] as Tensor, params[2 * i] as Tensor), params[2 * i + 1] as Tensor);
      if (layer.kind === 'dense' && layer.activation === 'softmax') probs = tf.softmax(z);
      else acts.push(tf.relu(z));
    });
    const p = probs as Tensor;
    const stats = stepStats(tf, p, inputs.y, inputs.w);
    const q = tf.div(p, tf.sum(p, -1, true));
    const trueProb = tf.sum(tf.mul(q, inputs.y), -1, true);
    const unclipped = tf.cast(tf.logicalAnd(tf.greaterEqual(trueProb, EPSILON), tf.lessEqual(trueProb, 1 - EPSILON)), 'float32');
    let dz = tf.mul(tf.sub(q, inputs.y), tf.mul(inputs.w, unclipped));
    const c = tf.scalar(-learningRate);
    const next: Tensor[] = new Array<Tensor>(params.length);
    for (let i = layers.length - 1; i >= 0; i--) {
      const a = acts[i] as Tensor;
      const kernel = params[2 * i] as Tensor;
      next[2 * i] = tf.add(tf.mul(c, tf.matMul(a, dz, true, false)), kernel);
      next[2 * i + 1] = tf.add(tf.mul(c, tf.sum(dz, 1, true)), params[2 * i + 1] as Tensor);
      if (i > 0) dz = tf.mul(tf.matMul(dz, kernel, false, true), tf.step(a));
    }
    return { params: next, ...stats };
  });
}

/** Conv net forward of all K institutions: the conv layers run per institution on its own slice, the dense layers batched. */
function convForward(tf: TF, layers: LayerLayout[], params: Tensor[], x: Tensor): Tensor {
  const weightsOf = layers.map((layer, i) => {
    const at = layers.slice(0, i).filter((l) => l.kind === 'dense' || l.kind === 'conv').length;
    return { layer, kernel: params[2 * at], bias: params[2 * at + 1] };
  });
  const convKernels = weightsOf.map((l) => (l.layer.kind === 'conv' ? tf.unstack(l.kernel as Tensor) : []));
  const convBiases = weightsOf.map((l) => (l.layer.kind === 'conv' ? tf.unstack(l.bias as Tensor) : []));
  const perInstitution = tf.unstack(x).map((xi, inst) => {
    let h = xi;
    weightsOf.forEach(({ layer }, i) => {
      if (layer.kind === 'conv') {
        const filter = (convKernels[i] as Tensor[])[inst] as Tensor;
        const bias = (convBiases[i] as Tensor[])[inst] as Tensor;
        h = tf.relu(tf.add(tf.conv2d(h as never, filter as never, 1, 'same'), bias));
      } else if (layer.kind === 'pool') h = tf.maxPool(h as never, layer.size, layer.size, 'valid');
      else if (layer.kind === 'flatten') h = tf.reshape(h, [h.shape[0] as number, -1]);
    });
    return h;
  });
  let h = tf.stack(perInstitution);
  let probs: Tensor | undefined;
  for (const { layer, kernel, bias } of weightsOf) {
    if (layer.kind !== 'dense') continue;
    const z = tf.add(tf.matMul(h, kernel as Tensor), bias as Tensor);
    if (layer.activation === 'softmax') probs = tf.softmax(z);
    else h = tf.relu(z);
  }
  return probs as Tensor;
}

/**
 * Conv nets: the same loss trainOnBatch minimises (tfjs's clipped categorical cross-entropy, mean over each
 * institution's real rows), summed over institutions so each one's gradient is its own, differentiated by tfjs.
 */
export function convStep(tf: TF, layers: LayerLayout[], params: Tensor[], inputs: StepInputs, learningRate: number): StepOutputs {
  return tf.tidy(() => {
    let stats: { lossSum: Tensor; correct: Tensor } | undefined;
    const loss = (...ps: Tensor[]): Scalar => {
      const probs = convForward(tf, layers, ps, inputs.x);
      const s = stepStats(tf, probs, inputs.y, inputs.w);
      stats = { lossSum: tf.keep(s.lossSum), correct: tf.keep(s.correct) };
      const q = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), EPSILON, 1 - EPSILON);
      const ce = tf.neg(tf.sum(tf.mul(inputs.y, tf.log(q)), -1, true));
      return tf.sum(tf.mul(ce, inputs.w)) as Scalar;
    };
    const grads = tf.grads(loss)(params);
    const c = tf.scalar(-learningRate);
    const next = params.map((p, i) => tf.add(tf.mul(c, grads[i] as Tensor), p));
    const s = stats as { lossSum: Tensor; correct: Tensor };
    return { params: next, lossSum: s.lossSum, correct: s.correct };
  });
}
