/** The residual network of He et al. 2016 (basic blocks, BatchNormalization) as a seeded TF.js Layers model. */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

/** Basic blocks per stage for each depth (He et al. 2016, table 1; depth 10 is the one-block-per-stage variant). */
export const RESNET_STAGES = { 10: [1, 1, 1, 1], 18: [2, 2, 2, 2], 34: [3, 4, 6, 3] } as const;
export type ResNetDepth = keyof typeof RESNET_STAGES;

export interface ResNetOptions {
  depth: ResNetDepth;
  /** Filters of the first stage; stages have width, 2·width, 4·width, 8·width (64 in the paper). */
  width: number;
  /** [height, width, channels]. */
  inputShape: number[];
  /** Units of the head and their activation (softmax over the classes, sigmoid, linear). */
  units: number;
  activation: 'softmax' | 'sigmoid' | 'linear';
  seed: number;
}

/**
 * Inputs of at least 64 pixels a side get the paper's ImageNet stem (7x7 convolution, stride 2, then 3x3 max pooling,
 * stride 2); smaller ones (28x28, 32x32) the CIFAR stem (one 3x3 convolution, stride 1), so the last stage still
 * sees a 4x4 map.
 */
export const IMAGENET_STEM_FROM = 64;

/**
 * Builds the network: stem, four stages of basic blocks (two 3x3 convolutions without bias, each followed by
 * BatchNormalization; the first block of stages 2-4 halves the map with stride 2 and a 1x1 convolution + BN on its
 * shortcut, option B of the paper), global average pooling and a dense head. Kernels are He-normal initialised from
 * `seed` (the same seed gives the same weights); BatchNormalization uses momentum 0.9 (PyTorch's 0.1), so its moving
 * statistics settle within the few hundred steps a federated round takes. Layer names say where they are:
 * `stem_conv`, `stage2_block1_conv1`, `stage2_block1_down_bn`, `head`.
 * @example const model = buildResNet(tf, { depth: 18, width: 64, inputShape: [224, 224, 3], units: 1000, activation: 'softmax', seed: 0 });
 */
export function buildResNet(tf: TF, opts: ResNetOptions): LayersModel {
  const stages = RESNET_STAGES[opts.depth];
  if (!stages) throw new Error(`ResNet depth ${String(opts.depth)}: use ${Object.keys(RESNET_STAGES).join(', ')}`);
  if (opts.inputShape.length !== 3)
    throw new Error(`ResNet needs an image input [height, width, channels], got [${opts.inputShape.join(', ')}]`);
  let seed = opts.seed * 1000 + 1; // TF.js draws from Math.random for a seed of 0
  const conv = (x: SymbolicTensor, filters: number, kernel: number, strides: number, name: string): SymbolicTensor =>
    tf.layers
      .conv2d({
        filters,
        kernelSize: kernel,
        strides,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: seed++ }),
        name,
      })
      .apply(x) as SymbolicTensor;
  const bn = (x: SymbolicTensor, name: string): SymbolicTensor =>
    tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name }).apply(x) as SymbolicTensor;
  const relu = (x: SymbolicTensor, name: string): SymbolicTensor => tf.layers.reLU({ name }).apply(x) as SymbolicTensor;

  const input = tf.input({ shape: opts.inputShape, name: 'input' });
  const [h, w] = opts.inputShape as [number, number, number];
  const large = Math.min(h, w) >= IMAGENET_STEM_FROM;
  let x = relu(bn(conv(input, opts.width, large ? 7 : 3, large ? 2 : 1, 'stem_conv'), 'stem_bn'), 'stem_relu');
  if (large) x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'stem_pool' }).apply(x) as SymbolicTensor;
  stages.forEach((blocks, s) => {
    const filters = opts.width * 2 ** s;
    for (let b = 0; b < blocks; b++) {
      const name = `stage${s + 1}_block${b + 1}`;
      const strides = s > 0 && b === 0 ? 2 : 1;
      let y = relu(bn(conv(x, filters, 3, strides, `${name}_conv1`), `${name}_bn1`), `${name}_relu1`);
      y = bn(conv(y, filters, 3, 1, `${name}_conv2`), `${name}_bn2`);
      const shortcut =
        strides !== 1 || (x.shape[3] as number) !== filters ? bn(conv(x, filters, 1, strides, `${name}_down_conv`), `${name}_down_bn`) : x;
      x = relu(tf.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as SymbolicTensor, `${name}_relu2`);
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor;
  const output = tf.layers
    .dense({
      units: opts.units,
      activation: opts.activation,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
      name: 'head',
    })
    .apply(x) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: `resnet${opts.depth}` });
}

/**
 * Parameters of a Layers model: all (BatchNormalization's moving statistics included) and those a gradient trains
 * (what PyTorch's `parameters()` and the paper count: 11,689,512 for ResNet-18 on ImageNet).
 * @example countParameters(model) // { total: 11_699_112, trainable: 11_689_512 }
 */
export function countParameters(model: LayersModel): { total: number; trainable: number } {
  const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
  return {
    total: model.weights.reduce((n, w) => n + size(w.shape as number[]), 0),
    trainable: model.trainableWeights.reduce((n, w) => n + size(w.shape as number[]), 0),
  };
}
