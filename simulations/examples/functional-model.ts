/**
 * Writes a small Keras-style functional model as the Python `tensorflowjs` converter writes one (model.json with
 * `modelTopology.model_config` and `keras_version`, plus a weight shard), for the docs: a dense base marked
 * `trainable: false` (standing in for a pretrained feature extractor: a real one keeps its weights as they are),
 * BatchNormalization, Dropout, a residual Add and a head for the task. Weights are seeded, so the same flags write the
 * same files.
 *
 * Usage: node --import tsx simulations/examples/functional-model.ts OUT_DIR --inputs N [--units 1] [--activation sigmoid]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SymbolicTensor } from '@tensorflow/tfjs';
import { selectBackend } from '../../node-agent/train/index.js';

export interface FunctionalModelOptions {
  inputs: number;
  units: number;
  activation: 'sigmoid' | 'softmax' | 'linear';
  hidden?: number;
}

/**
 * Builds the model with TensorFlow.js and writes `dir/model.json` (Keras converter layout) and `dir/group1-shard1of1.bin`.
 * @example await writeFunctionalModel('model', { inputs: 31, units: 1, activation: 'sigmoid' })
 */
export async function writeFunctionalModel(dir: string, opts: FunctionalModelOptions): Promise<string> {
  const { tf } = await selectBackend('cpu', () => undefined);
  const hidden = opts.hidden ?? 32;
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [opts.inputs], name: 'features' });
  const base = tf.layers
    .dense({ units: hidden, activation: 'relu', name: 'pretrained_dense', trainable: false, kernelInitializer: init(1) })
    .apply(input) as SymbolicTensor;
  const normal = tf.layers.batchNormalization({ name: 'batch_norm' }).apply(base) as SymbolicTensor;
  const dropped = tf.layers.dropout({ rate: 0.2, name: 'dropout' }).apply(normal) as SymbolicTensor;
  const block = tf.layers
    .dense({ units: hidden, activation: 'relu', name: 'block_dense', kernelInitializer: init(2) })
    .apply(dropped) as SymbolicTensor;
  const residual = tf.layers.add({ name: 'residual' }).apply([normal, block]) as SymbolicTensor;
  const output = tf.layers
    .dense({ units: opts.units, activation: opts.activation, name: 'head', kernelInitializer: init(3) })
    .apply(residual) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output, name: 'site_model' });
  mkdirSync(dir, { recursive: true });
  const shard = 'group1-shard1of1.bin';
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const parts =
        artifacts.weightData === undefined ? [] : Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData];
      writeFileSync(join(dir, shard), Buffer.concat(parts.map((p) => Buffer.from(p))));
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'keras v2.15.0',
        convertedBy: 'TensorFlow.js Converter v4.22.0',
        modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: artifacts.modelTopology },
        weightsManifest: [{ paths: [shard], weights: artifacts.weightSpecs }],
      };
      writeFileSync(join(dir, 'model.json'), `${JSON.stringify(modelJson, null, 1)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return join(dir, 'model.json');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const [out, ...rest] = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const at = rest.indexOf(name);
    return at >= 0 ? rest[at + 1] : undefined;
  };
  const inputs = Number(flag('--inputs'));
  if (!out || !Number.isInteger(inputs) || inputs < 1) {
    console.error('usage: functional-model.ts OUT_DIR --inputs N [--units 1] [--activation sigmoid|softmax|linear]');
    process.exit(2);
  }
  const activation = (flag('--activation') ?? 'sigmoid') as FunctionalModelOptions['activation'];
  const path = await writeFunctionalModel(out, { inputs, units: Number(flag('--units') ?? 1), activation });
  console.log(`wrote ${path}`);
}
