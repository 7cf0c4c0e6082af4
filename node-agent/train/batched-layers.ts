/**
 * Forward and hand-written backward passes of the preset layers (dense, 5x5 'same' relu conv, 2x2 max pool,
 * flatten) on one institution's minibatch. Every matMul is 2-D: on wasm, Cohort's matMul kernel (wasm-fast-kernels.ts)
 * runs it as an untransposed XNNPACK product (10-20x tfjs-backend-wasm's transposed or batched one) or by Cohort's SIMD
 * kernels, which read a big kernel where it lies.
 */
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { LayerLayout } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';
import { denseUpdateSimd } from './batched-dense.js';
import { maxPool2x2Grad, maxPool2x2ReluGrads } from './batched-pool.js';

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
      const kernel = params[at] as Tensor2D;
      // A later layer's kernel, new every step, goes to Cohort's wasm matMul as it is: it is read in place (SIMD) or
      // moved to the left operand, never repacked by XNNPACK (wasm-fast-kernels.ts).
      const product =
        at === 0 && saved.length === 0 ? tf.transpose(tf.matMul(kernel, tf.transpose(h as Tensor2D))) : tf.matMul(h as Tensor2D, kernel);
      const z = tf.add(product, params[at + 1] as Tensor);
      h = layer.activation === 'relu' ? tf.relu(z) : z;
      saved.push({ layer, at, input, output: h });
      at += 2;
    } else if (layer.kind === 'conv') {
      // One kernel: XNNPACK adds the bias and clamps at 0 inside the convolution (wasm's FusedConv2D).
      h = tf.fused.conv2d({
        x: h as Tensor4D,
        filter: params[at] as Tensor4D,
        strides: 1,
        pad: 'same',
        bias: params[at + 1] as Tensor,
        activation: 'relu',
      });
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

/**
 * dL/dx of a max pool, equal to tfjs's MaxPoolGrad kernel (as its autodiff uses): on wasm a 2x2 pool's is computed
 * in JavaScript with that kernel's tie rules (maxPool2x2Grad), 3-4x faster than the kernel itself. With `reluMask`
 * (the pool's input is a relu conv's output) it returns that conv's dL/dz, the relu's gradient applied in the same pass.
 */
function poolGrad(tf: TF, dy: Tensor, s: Saved, size: number, reluMask: boolean): { dx: Tensor; db?: Tensor } {
  if (size === 2 && tf.getBackend() === 'wasm') {
    if (!reluMask) return { dx: maxPool2x2Grad(tf, dy, s.input) };
    const { dz, db } = maxPool2x2ReluGrads(tf, dy, s.input); // the conv's bias gradient summed in the same pass
    return { dx: dz, db };
  }
  const dx = tf
    .engine()
    .runKernel('MaxPoolGrad', { dy, input: s.input, output: s.output }, { filterSize: size, strides: size, pad: 'valid' }) as Tensor;
  return { dx: reluMask ? tf.mul(dx, tf.step(s.input)) : dx };
}

/**
 * dL/dW and dL/db of a stride-1 'same' conv: tfjs's Conv2DBackpropFilter kernel (Cohort's own on wasm) and, unless
 * the pool's pass already summed it (`db`), a sum.
 */
function convGrads(tf: TF, x: Tensor, dz: Tensor, filterShape: number[], db?: Tensor): { dW: Tensor; db: Tensor } {
  const dW = tf
    .engine()
    .runKernel('Conv2DBackpropFilter', { x, dy: dz }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape }) as Tensor;
  return { dW, db: db ?? tf.sum(dz, [0, 1, 2]) };
}

/**
 * dL/dx of a stride-1 'same' conv: tfjs's Conv2DBackpropInput kernel (on wasm, Cohort's flipped-filter convolution,
 * which XNNPACK runs 6-9x faster than tfjs-backend-wasm's own: wasm-grad-kernels.ts).
 */
function convInputGrad(tf: TF, dz: Tensor, kernel: Tensor4D, inputShape: number[]): Tensor {
  return tf
    .engine()
    .runKernel('Conv2DBackpropInput', { dy: dz, filter: kernel }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape }) as Tensor;
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
  let masked = false; // dy is already a relu conv's dL/dz (its pool's gradient applied the relu's)
  let poolDb: Tensor | undefined; // that conv's bias gradient, when the pool's pass summed it
  for (let i = saved.length - 1; i >= 0; i--) {
    const s = saved[i] as Saved;
    const first = i === 0;
    if (s.layer.kind === 'dense') {
      const dz = s.layer.activation === 'relu' ? tf.mul(dy, tf.step(s.output)) : dy;
      const kernel = params[s.at] as Tensor2D;
      // −lr scales the small [r, units] operand, not the [in, units] product: one pass over the kernel, not two.
      const scaled = tf.mul(c, dz) as Tensor2D;
      // A kernel not kept transposed: updated in one pass by Cohort's SIMD kernel where it runs (batched-dense.ts).
      next[s.at] =
        (first ? undefined : denseUpdateSimd(tf, kernel, s.input as Tensor2D, scaled)) ??
        tf.add(first ? tf.matMul(tf.transpose(scaled), s.input as Tensor2D) : tf.matMul(tf.transpose(s.input as Tensor2D), scaled), kernel);
      next[s.at + 1] = tf.add(tf.mul(c, tf.sum(dz, 0)), params[s.at + 1] as Tensor);
      // dL/dx = dz · kernelᵀ, as tfjs's own matMul gradient asks it (on wasm: Cohort's SIMD product for a big kernel)
      if (!first) dy = tf.matMul(dz as Tensor2D, kernel, false, true);
    } else if (s.layer.kind === 'conv') {
      const dz = masked ? dy : tf.mul(dy, tf.step(s.output));
      const { dW, db } = convGrads(tf, s.input, dz, (params[s.at] as Tensor4D).shape, masked ? poolDb : undefined);
      [masked, poolDb] = [false, undefined];
      const kernel = params[s.at] as Tensor4D;
      next[s.at] = tf.add(tf.mul(c, dW), kernel);
      next[s.at + 1] = tf.add(tf.mul(c, db), params[s.at + 1] as Tensor);
      if (!first) dy = convInputGrad(tf, dz, kernel, s.input.shape);
    } else if (s.layer.kind === 'pool') {
      masked = saved[i - 1]?.layer.kind === 'conv'; // the preset convs are relu'd: apply it here, in the pool's pass
      ({ dx: dy, db: poolDb } = poolGrad(tf, dy, s, s.layer.size, masked));
    } else {
      dy = tf.reshape(dy, s.input.shape);
    }
  }
  return next;
}
