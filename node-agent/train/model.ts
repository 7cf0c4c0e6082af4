/** Builds the TensorFlow.js model a ModelSpec describes, and moves its weights in and out as named tensors. */
import { tensor, type LayersModel, type SymbolicTensor, type Tensor } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import { layersOf, type ModelSpec } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';

/**
 * The model of `layersOf(spec)`: layers named as in the spec (`dense_0`, `conv_0`...), so each
 * weight's `originalName` equals its `tensorLayout` name. Conv: 5x5, 'same', relu; pool: 2x2 max.
 * `seed` makes the Glorot-uniform initial kernels reproducible (biases start at zero).
 * @example const model = buildModel(tf, mnistSpec('mlp'));
 */
export function buildModel(tf: TF, spec: ModelSpec, opts: { seed?: number } = {}): LayersModel {
  const input = tf.input({ shape: [...spec.inputShape], name: 'input' });
  let x: SymbolicTensor = input;
  let pools = 0;
  layersOf(spec).forEach((layer, i) => {
    const kernelInitializer = tf.initializers.glorotUniform(opts.seed === undefined ? {} : { seed: opts.seed + i });
    if (layer.kind === 'dense') {
      x = tf.layers
        .dense({ name: layer.name, units: layer.units, activation: layer.activation, kernelInitializer })
        .apply(x) as SymbolicTensor;
    } else if (layer.kind === 'conv') {
      x = tf.layers
        .conv2d({
          name: layer.name,
          filters: layer.filters,
          kernelSize: layer.kernel,
          padding: 'same',
          activation: 'relu',
          kernelInitializer,
        })
        .apply(x) as SymbolicTensor;
    } else if (layer.kind === 'pool') {
      x = tf.layers.maxPooling2d({ name: `pool_${pools++}`, poolSize: layer.size }).apply(x) as SymbolicTensor;
    } else {
      x = tf.layers.flatten({ name: 'flatten' }).apply(x) as SymbolicTensor;
    }
  });
  return tf.model({ inputs: input, outputs: x, name: `cohort_${spec.arch}` });
}

/**
 * Copies of the model's weights, named and ordered as `tensorLayout(spec)` (layer order,
 * kernel then bias, which is the order `buildModel` creates them in).
 * @example const tensors = getNamedWeights(model); tensors[0].name // 'dense_0/kernel'
 */
export function getNamedWeights(model: LayersModel): NamedTensor[] {
  const values = model.getWeights(); // the variables themselves: read, never dispose
  return model.weights.map((w, i) => ({
    name: w.originalName,
    shape: [...w.shape] as number[],
    data: Float32Array.from((values[i] as Tensor).dataSync()),
  }));
}

/**
 * Loads named tensors (any order) into the model; the names must be exactly the model's weights
 * and every shape must agree, else it throws naming the difference. The data is copied.
 * @example setNamedWeights(model, decoded.tensors);
 */
export function setNamedWeights(model: LayersModel, tensors: NamedTensor[]): void {
  const given = new Map(tensors.map((t) => [t.name, t]));
  if (given.size !== tensors.length) throw new Error('weights contain a duplicated tensor name');
  const names = model.weights.map((w) => w.originalName);
  const missing = names.filter((name) => !given.has(name));
  const extra = tensors.map((t) => t.name).filter((name) => !names.includes(name));
  if (missing.length || extra.length) {
    throw new Error(`weights do not match the model: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
  }
  const ordered = model.weights.map((w) => {
    const t = given.get(w.originalName) as NamedTensor;
    const shape = w.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.data.length !== size) {
      throw new Error(
        `weight ${t.name}: the model needs shape [${shape.join(', ')}], got [${t.shape.join(', ')}] with ${t.data.length} values`,
      );
    }
    return t;
  });
  const values = ordered.map((t) => tensor(t.data.slice(), t.shape, 'float32'));
  try {
    model.setWeights(values); // the variables take their own reference; the temporaries go
  } finally {
    for (const v of values) v.dispose();
  }
}
