/** User models for the tests, written to disk as TF.js `model.save` writes them (or as the Keras converter does). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayersModel, SymbolicTensor, io } from '@tensorflow/tfjs';
import type { TF } from '../../../node-agent/train/index.js';

/**
 * A small functional CNN for 28x28x1 images and 10 classes: a frozen first conv ('stem'), BatchNormalization,
 * a second conv added back to the normalised stem (a residual Add), max pooling, Dropout, a softmax Dense.
 * `filters` sets the width; `seed` the initial weights.
 */
export function residualCnn(
  tf: TF,
  opts: { filters?: number; seed?: number; frozenStem?: boolean; denseUnits?: number } = {},
): LayersModel {
  const f = opts.filters ?? 4;
  const seed = opts.seed ?? 1;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  const stem = tf.layers
    .conv2d({
      name: 'stem',
      filters: f,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(0),
      biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.05, seed: seed + 9 }),
      trainable: !(opts.frozenStem ?? true),
    })
    .apply(input) as SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(stem) as SymbolicTensor;
  const conv = tf.layers
    .conv2d({ name: 'conv', filters: f, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) })
    .apply(bn) as SymbolicTensor;
  const sum = tf.layers.add({ name: 'residual' }).apply([bn, conv]) as SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(sum) as SymbolicTensor;
  let x = tf.layers.flatten({ name: 'flat' }).apply(pooled) as SymbolicTensor;
  x = tf.layers.dropout({ name: 'drop', rate: 0.2, seed }).apply(x) as SymbolicTensor;
  if (opts.denseUnits)
    x = tf.layers
      .dense({ name: 'hidden', units: opts.denseUnits, activation: 'relu', kernelInitializer: init(3) })
      .apply(x) as SymbolicTensor;
  const out = tf.layers.dense({ name: 'out', units: 10, activation: 'softmax', kernelInitializer: init(2) }).apply(x) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'residual_cnn' });
}

/** What `model.save` produced: topology, weight specs and the weight bytes. */
export async function artifactsOf(
  tf: TF,
  model: LayersModel,
): Promise<{ topology: Record<string, unknown>; specs: io.WeightsManifestEntry[]; bytes: Uint8Array }> {
  let got: { topology: Record<string, unknown>; specs: io.WeightsManifestEntry[]; bytes: Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const parts = a.weightData === undefined ? [] : Array.isArray(a.weightData) ? a.weightData : [a.weightData];
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let at = 0;
      for (const p of parts) {
        bytes.set(new Uint8Array(p), at);
        at += p.byteLength;
      }
      got = { topology: a.modelTopology as Record<string, unknown>, specs: a.weightSpecs ?? [], bytes };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return got!;
}

/**
 * Writes `dir/model.json` and its shards for a model. `keras`: the topology wrapped as the Python converter writes it
 * (keras_version, model_config, training_config); `shards`: how many files the weights are cut into.
 * @example const path = await saveLayersModel(tf, residualCnn(tf), tmp); // tmp/model.json
 */
export async function saveLayersModel(
  tf: TF,
  model: LayersModel,
  dir: string,
  opts: { keras?: boolean; shards?: number } = {},
): Promise<string> {
  const { topology, specs, bytes } = await artifactsOf(tf, model);
  mkdirSync(dir, { recursive: true });
  const shards = opts.shards ?? 1;
  const cut = Math.ceil(bytes.byteLength / shards);
  const paths: string[] = [];
  for (let i = 0; i < shards; i++) {
    const name = `group1-shard${i + 1}of${shards}.bin`;
    writeFileSync(join(dir, name), bytes.subarray(i * cut, Math.min((i + 1) * cut, bytes.byteLength)));
    paths.push(name);
  }
  const modelTopology = opts.keras
    ? {
        keras_version: '2.15.0',
        backend: 'tensorflow',
        model_config: topology,
        training_config: { loss: 'categorical_crossentropy', optimizer_config: { class_name: 'SGD', config: { learning_rate: 0.01 } } },
      }
    : topology;
  const json = {
    format: 'layers-model',
    generatedBy: opts.keras ? 'keras v2.15.0' : 'TensorFlow.js',
    convertedBy: opts.keras ? 'TensorFlow.js Converter v4.22.0' : null,
    modelTopology,
    weightsManifest: [{ paths, weights: specs }],
  };
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}
