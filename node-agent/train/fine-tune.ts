/** Fine-tuning a pretrained Layers model: a new head for the study's outputs, and only the chosen layers trained. */
import type { LayersModel } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import { describeLayersModel, type TrainLayers } from '../../protocol/layers-spec.js';
import type { TF } from './backend.js';
import { readLayersFile } from './layers-file.js';
import { layersSpecOf, modelFromTopology, modelInputShape, weightNames } from './layers-model.js';
import type { UserModel } from './user-model.js';

interface LayerJson {
  class_name?: string;
  config?: Record<string, unknown> & { name?: string; layers?: LayerJson[] };
}

export interface FineTuneOptions {
  /** Units the study's task needs at the output, and their activation. */
  units: number;
  activation: 'softmax' | 'sigmoid' | 'linear';
  trainLayers: TrainLayers;
  fedbn?: boolean;
  /** Seed of the new head's initial weights. */
  seed: number;
  /** Replace the head even when its units fit: the file's classes are known to be others than the study's. */
  replaceHead?: boolean;
}

/** A fine-tuned user model: what readUserModel gives, plus what changed. */
export interface FineTunedModel extends UserModel {
  /** Set when the file's output did not fit the study: the layer, its units before and after. */
  headReplaced?: { layer: string; from: number; to: number };
  /** The top-level layers that train (and whose tensors travel). */
  trainedLayers: string[];
}

/** The top-level layer configs of a topology (Keras's `model_config` when present). */
function topLayers(topology: Record<string, unknown>): LayerJson[] {
  const config = ((topology.model_config as LayerJson | undefined) ?? (topology as LayerJson)).config;
  return config?.layers ?? [];
}

/**
 * Names of the top-level layers that `choice` trains, in topology order. `head`: the output layer; `all`: every
 * layer; `last-block`: everything after the second-to-last `Add` layer (a residual network's last block and the
 * head), or, in a model without two `Add` layers, everything from its second-to-last layer with a kernel on.
 * @example layersToTrain(model, 'head', 'head') // ['head']
 */
export function layersToTrain(model: LayersModel, choice: TrainLayers, outputLayer: string): string[] {
  const names = model.layers.map((l) => l.name);
  if (choice === 'all') return names;
  if (choice === 'head') return [outputLayer];
  const adds = model.layers.flatMap((l, i) => (l.getClassName() === 'Add' ? [i] : []));
  const kernels = model.layers.flatMap((l, i) => (l.weights.some((w) => w.originalName.endsWith('/kernel')) ? [i] : []));
  const from = adds.length >= 2 ? (adds.at(-2) as number) + 1 : (kernels.at(-2) ?? kernels.at(-1) ?? 0);
  return names.slice(from);
}

/** Seeded Glorot-uniform kernel (or zeros, for a bias) for a new head tensor. */
function freshTensor(tf: TF, name: string, shape: number[], seed: number): NamedTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 2) return { name, shape, data: new Float32Array(size) };
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const limit = Math.sqrt(6 / (fanIn + (shape.at(-1) as number)));
  const t = tf.randomUniform(shape, -limit, limit, 'float32', seed);
  const data = Float32Array.from(t.dataSync() as Float32Array);
  t.dispose();
  return { name, shape, data };
}

/**
 * Reads a pretrained model.json and makes it a fine-tuning study's model: when its output layer has other units than
 * the study needs (or `replaceHead` says its classes are others), that layer gets the study's units and activation and new seeded weights (the rest keep the
 * file's); layers `trainLayers` does not choose are marked `trainable: false` in the topology, so their tensors are
 * frozen: never sent, pinned by the spec's `baseHash`, read by each site from its own copy of the file. Throws naming
 * the file when it has no output layer with units, or that layer sits inside a nested model.
 * @example const tuned = await fineTuneUserModel(tf, 'pretrained/model.json', { units: 5, activation: 'softmax', trainLayers: 'head', seed: 0 });
 */
export async function fineTuneUserModel(tf: TF, path: string, opts: FineTuneOptions): Promise<FineTunedModel> {
  const { file, model: original } = await readLayersFile(tf, path);
  let model: LayersModel | undefined;
  try {
    const output = describeLayersModel(file.topology);
    if (!output) throw new Error(`${file.path}: no output layer with units (Dense) to fine-tune`);
    const topology = structuredClone(file.topology);
    const layers = topLayers(topology);
    const head = layers.find((l) => l.config?.name === output.outputLayer);
    if (!head?.config)
      throw new Error(
        `${file.path}: the output layer ${output.outputLayer} is inside a nested model; Cohort replaces a top-level head only`,
      );
    let headReplaced: FineTunedModel['headReplaced'];
    if (output.units !== opts.units || opts.replaceHead) {
      headReplaced = { layer: output.outputLayer, from: output.units, to: opts.units };
      head.config.units = opts.units;
      head.config.activation = opts.activation;
    }
    const trainedLayers = layersToTrain(original, opts.trainLayers, output.outputLayer);
    const training = new Set(trainedLayers);
    for (const layer of layers)
      if (layer.config && layer.class_name !== 'InputLayer') layer.config.trainable = training.has(String(layer.config.name));
    model = await modelFromTopology(tf, topology, file.path);
    const fromFile = new Map(file.tensors.map((t) => [t.name, t]));
    const tensors = weightNames(model).map((name, i) => {
      const shape = [...(model as LayersModel).weights[i]!.shape] as number[];
      const have = headReplaced && name.startsWith(`${output.outputLayer}/`) ? undefined : fromFile.get(name);
      return have && have.shape.join() === shape.join() ? have : freshTensor(tf, name, shape, opts.seed * 7919 + i + 1);
    });
    const spec = { ...layersSpecOf(topology, model, tensors, { fedbn: opts.fedbn ?? false }), trainLayers: opts.trainLayers };
    const trained = new Set(spec.tensors.filter((t) => t.role === 'trained').map((t) => t.name));
    return {
      path: file.path,
      layers: spec,
      inputShape: modelInputShape(model),
      output: { outputLayer: output.outputLayer, units: opts.units, activation: headReplaced ? opts.activation : output.activation },
      initial: tensors.filter((t) => trained.has(t.name)),
      base: tensors.filter((t) => !trained.has(t.name)),
      dequantized: file.dequantized,
      ...(headReplaced ? { headReplaced } : {}),
      trainedLayers,
    };
  } finally {
    original.dispose();
    model?.dispose();
  }
}

/**
 * Frozen BatchNormalization layers of a fine-tuning model run in inference mode while the rest trains (as Keras does
 * since TensorFlow 2): they normalise with the pretrained moving statistics, so the features the trained layers see
 * are the ones evaluation gives them.
 * @example if (spec.layers?.trainLayers) freezeBatchNormStatistics(model);
 */
export function freezeBatchNormStatistics(model: LayersModel): void {
  const walk = (layers: LayersModel['layers']): void => {
    for (const layer of layers) {
      const inner = (layer as unknown as { layers?: LayersModel['layers'] }).layers;
      if (Array.isArray(inner)) walk(inner);
      else if (layer.getClassName() === 'BatchNormalization' && !layer.trainable) {
        const call = layer.call.bind(layer);
        layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
      }
    }
  };
  walk(model.layers);
}
