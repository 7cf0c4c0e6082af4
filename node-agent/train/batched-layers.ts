/**
 * Forward and hand-written backward passes of the preset layers (dense, 5x5 'same' relu conv, 2x2 max pool,
 * flatten) on one institution's minibatch. Every matMul is 2-D and untransposed, the only form the wasm backend
 * sends to XNNPACK (10-20x its transposed or batched matMul); transposes are done on the small operand instead.
 */
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { LayerLayout } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';

/**
 * True for the kernel kept transposed ([units, inputs]) while training: the first layer's, when dense. XNNPACK packs
 * a matMul's right operand on every call (the weights change every step), so the big kernel goes on the left: the
 * forward pass computes (W^T x^T)^T and the gradient W^T += (−lr·dz)^T x, and no input gradient is needed.
 * @example keptTransposed(layersOf(mnistSpec('mlp')), 0) // true
 */
export function keptTransposed(layers: LayerLayout[], param: number): boolean {
  return param === 0 && layers[0]?.kind === 'dense';
}

/** What the backward pass of one layer needs from its forward pass. */
export interface Saved {
  layer: LayerLayout;
  /** Index of the layer's kernel in the parameter list (bias at +1); -1 for pool and flatten. */
  at: number;
  input: Tensor;
  output: Tensor;
}

/**
 * Runs the layers up to the last dense's logits; returns the logits and what the backward pass needs.
 * @example const { logits, saved } = forward(tf, layersOf(spec), params, x);
 */
export function forward(tf: TF, layers: LayerLayout[], params: Tensor[], x: Tensor): { logits: Tensor2D; saved: Saved[] } {
  const saved: Saved[] = [];
  let h = x;
  let at = 0;
  for (const layer of layers) {
    const input = h;
    if (layer.kind === 'dense') {
      const product =
        at === 0 && saved.length === 0
          ? tf.transpose(tf.matMul(params[at] as Tensor2D, tf.transpose(h as Tensor2D)))
          : tf.matMul(h as Tensor2D, params[at] as Tensor2D);
      const z = tf.add(product, params[at + 1] as Tensor);
      h = layer.activation === 'relu' ? tf.relu(z) : z;
      saved.push({ layer, at, input, output: h });
      at += 2;
    } else if (layer.kind === 'conv') {
      h = tf.relu(tf.add(tf.conv2d(h as Tensor4D, params[at] as Tensor4D, 1, 'same'), params[at + 1] as Tensor));
      saved.push({ layer, at, input, output: h });
      at += 2;
    } else if (layer.kind === 'pool') {
      h = tf.maxPool(h as Tensor4D, layer.size, layer.size, 'valid');
      saved.push({ layer, at: -1, input, output: h });
    } else {
      h = tf.reshape(h, [h.shape[0] as number, -1]);
      saved.push({ layer, at: -1, input, output: h });
    }
  }
  return { logits: h as Tensor2D, saved };
}

/** dL/dx of a 2x2 max pool (tfjs's MaxPoolGrad kernel, as its autodiff uses). */
function poolGrad(tf: TF, dy: Tensor, s: Saved, size: number): Tensor {
  return tf
    .engine()
    .runKernel('MaxPoolGrad', { dy, input: s.input, output: s.output }, { filterSize: size, strides: size, pad: 'valid' }) as Tensor;
}

/** dL/dW of a stride-1 'same' conv (tfjs's Conv2DBackpropFilter kernel, Cohort's own on wasm). */
function convFilterGrad(tf: TF, x: Tensor, dz: Tensor, filterShape: number[]): Tensor {
  return tf
    .engine()
    .runKernel('Conv2DBackpropFilter', { x, dy: dz }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape }) as Tensor;
}

/**
 * dL/dx of a stride-1 'same' conv with an odd square kernel: a forward 'same' conv of dz with the kernel flipped in
 * space and its in/out channels swapped, which XNNPACK runs ~7x faster than tfjs-backend-wasm's Conv2DBackpropInput.
 */
function convInputGrad(tf: TF, dz: Tensor, kernel: Tensor4D): Tensor {
  const flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
  return tf.conv2d(dz as Tensor4D, flipped, 1, 'same');
}

/**
 * From dL/d(logits) back through every layer: returns the SGD-updated parameters w + (−lr)·g (tfjs's SGD update),
 * in parameter order. The relu gradient passes where the layer's output is > 0 (tfjs's relu gradient: its input > 0).
 * @example const next = backwardAndUpdate(tf, saved, params, dLogits, 0.05);
 */
export function backwardAndUpdate(tf: TF, saved: Saved[], params: Tensor[], dLogits: Tensor, learningRate: number): Tensor[] {
  const c = tf.scalar(-learningRate);
  const next = new Array<Tensor>(params.length);
  let dy = dLogits;
  for (let i = saved.length - 1; i >= 0; i--) {
    const s = saved[i] as Saved;
    const first = i === 0;
    if (s.layer.kind === 'dense') {
      const dz = s.layer.activation === 'relu' ? tf.mul(dy, tf.step(s.output)) : dy;
      const kernel = params[s.at] as Tensor2D;
      // −lr scales the small [r, units] operand, not the [in, units] product: one pass over the kernel, not two.
      const scaled = tf.mul(c, dz) as Tensor2D;
      next[s.at] = tf.add(
        first ? tf.matMul(tf.transpose(scaled), s.input as Tensor2D) : tf.matMul(tf.transpose(s.input as Tensor2D), scaled),
        kernel,
      );
      next[s.at + 1] = tf.add(tf.mul(c, tf.sum(dz, 0)), params[s.at + 1] as Tensor);
      if (!first) dy = tf.transpose(tf.matMul(kernel, tf.transpose(dz as Tensor2D)));
    } else if (s.layer.kind === 'conv') {
      const dz = tf.mul(dy, tf.step(s.output));
      const kernel = params[s.at] as Tensor4D;
      next[s.at] = tf.add(tf.mul(c, convFilterGrad(tf, s.input, dz, kernel.shape)), kernel);
      next[s.at + 1] = tf.add(tf.mul(c, tf.sum(dz, [0, 1, 2])), params[s.at + 1] as Tensor);
      if (!first) dy = convInputGrad(tf, dz, kernel);
    } else if (s.layer.kind === 'pool') {
      dy = poolGrad(tf, dy, s, s.layer.size);
    } else {
      dy = tf.reshape(dy, s.input.shape);
    }
  }
  return next;
}
