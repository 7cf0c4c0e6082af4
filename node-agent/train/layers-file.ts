/** Reads a TensorFlow.js Layers model from disk (model.json plus its weight shards) and refuses a malformed one, naming what is wrong. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LayersModel, io } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import type { TF } from './backend.js';
import { modelFromTopology, weightNames } from './layers-model.js';

/** A Layers model as read from disk: its topology, and its weights named and ordered as `model.weights`. */
export interface LayersFile {
  /** The model.json read (absolute). */
  path: string;
  /** model.json's `modelTopology`, as written (Keras's `{ model_config, ... }` or the model config itself). */
  topology: Record<string, unknown>;
  /** Every weight of the model, in `model.weights` order, under the names `weightNames` gives. */
  tensors: NamedTensor[];
  /** Names of the weights that were stored quantized (uint8, uint16 or float16) and read dequantized to float32. */
  dequantized: string[];
}

const fail = (path: string, problem: string): never => {
  throw new Error(`${path}: ${problem}`);
};

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** What model.json must be for Cohort: JSON, a Layers model (not a graph model, not a Keras 3 archive), with a weights manifest. */
function readManifest(path: string): { topology: Record<string, unknown>; manifest: io.WeightsManifestConfig } {
  if (!existsSync(path)) fail(path, 'no such file');
  const bytes = readFileSync(path);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    fail(
      path,
      'is a zip archive (a Keras 3 .keras file?), not a TF.js model.json; convert it with `tensorflowjs_converter --input_format keras --output_format tfjs_layers_model model.h5 out/` from a Keras 2 .h5 file',
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    return fail(path, `is not JSON (${(cause as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail(path, 'is not a JSON object');
  const topology = json.modelTopology as Record<string, unknown> | undefined;
  const graph = json.format === 'graph-model' || (topology && typeof topology === 'object' && 'node' in topology);
  if (graph) {
    fail(
      path,
      'is a TF.js graph model (converted from a SavedModel or frozen graph), which has no layers to train; convert the Keras model with `tensorflowjs_converter --input_format keras --output_format tfjs_layers_model` instead',
    );
  }
  if (json.format !== undefined && json.format !== 'layers-model')
    fail(path, `has format "${String(json.format)}", Cohort reads "layers-model"`);
  if (!topology || typeof topology !== 'object' || Array.isArray(topology))
    fail(path, 'has no modelTopology object: not a TF.js Layers model');
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0)
    fail(path, 'has no weightsManifest (the weights are needed: they are the initial global model)');
  (manifest as unknown[]).forEach((group, g) => {
    const gr = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(gr.paths) || gr.paths.some((p) => typeof p !== 'string' || p === ''))
      fail(path, `weightsManifest[${g}].paths must list the shard files`);
    if (!Array.isArray(gr.weights)) fail(path, `weightsManifest[${g}].weights must list the weights`);
    for (const w of gr.weights as { name?: unknown; shape?: unknown; dtype?: unknown }[]) {
      if (typeof w.name !== 'string' || !Array.isArray(w.shape) || w.shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
        fail(path, `weightsManifest[${g}] has a weight without a name or a valid shape: ${JSON.stringify(w).slice(0, 120)}`);
      }
    }
  });
  return { topology: topology as Record<string, unknown>, manifest: manifest as io.WeightsManifestConfig };
}

/** Bytes one manifest entry occupies in its shards (quantized entries: at their stored width). */
function entryBytes(path: string, w: io.WeightsManifestEntry): number {
  const size = w.shape.reduce((a, b) => a * b, 1);
  const dtype = w.quantization?.dtype ?? w.dtype;
  const width = BYTES[dtype];
  if (width === undefined) return fail(path, `weight ${w.name} has dtype ${dtype}, which Cohort cannot read`);
  if (w.dtype !== 'float32') fail(path, `weight ${w.name} is ${w.dtype}: Cohort trains float32 weights only`);
  return size * width;
}

/** Reads each group's shards (relative to model.json), checks their total size, and decodes (dequantizing) the weights. */
function readWeights(
  tf: TF,
  path: string,
  manifest: io.WeightsManifestConfig,
): { byName: Map<string, NamedTensor[]>; dequantized: string[] } {
  const byName = new Map<string, NamedTensor[]>();
  const dequantized: string[] = [];
  manifest.forEach((group, g) => {
    const shards = group.paths.map((p) => {
      const full = resolve(dirname(path), p);
      if (!existsSync(full) || !statSync(full).isFile())
        fail(path, `weight shard ${p} (weightsManifest[${g}]) is missing: expected at ${full}`);
      return new Uint8Array(readFileSync(full));
    });
    const total = shards.reduce((n, s) => n + s.byteLength, 0);
    const expected = group.weights.reduce((n, w) => n + entryBytes(path, w), 0);
    if (total !== expected) {
      fail(
        path,
        `the shards of weightsManifest[${g}] (${group.paths.join(', ')}) hold ${total} bytes, its ${group.weights.length} weights need ${expected}: a shard is truncated or belongs to another model`,
      );
    }
    const joined = new Uint8Array(total);
    let at = 0;
    for (const s of shards) {
      joined.set(s, at);
      at += s.byteLength;
    }
    const decoded = tf.io.decodeWeights(joined.buffer, group.weights);
    try {
      for (const w of group.weights) {
        if (w.quantization) dequantized.push(w.name);
        const t = decoded[w.name];
        if (!t) fail(path, `weight ${w.name} could not be decoded`);
        const list = byName.get(w.name) ?? [];
        list.push({ name: w.name, shape: [...w.shape], data: Float32Array.from(t!.dataSync() as Float32Array) });
        byName.set(w.name, list);
      }
    } finally {
      tf.dispose(Object.values(decoded));
    }
  });
  return { byName, dequantized };
}

/** Finds a model weight's values among the file's, by its original name (or Keras's longer `layer/cell/weight` form). */
function takeWeight(byName: Map<string, NamedTensor[]>, originalName: string): NamedTensor | undefined {
  const direct = byName.get(originalName);
  if (direct?.length) return direct.shift();
  for (const [name, list] of byName) {
    const tokens = name.split('/');
    if (
      list.length &&
      tokens
        .slice(0, -2)
        .concat(tokens.at(-1) as string)
        .join('/') === originalName
    )
      return list.shift();
  }
  return undefined;
}

/**
 * Reads `model.json` (format layers-model, as `tensorflowjs_converter` writes it from Keras and as TF.js `model.save`
 * writes it) and the weight shards its `weightsManifest` lists, relative to it; builds the model to check that every
 * layer is known and every weight has its layer's shape. Quantized weights are dequantized to float32. Throws an
 * Error naming the file and the problem: missing file or shard, a shard of the wrong size, a graph model, a Keras 3
 * archive, an unknown layer class, a weight missing, unexpected or of the wrong shape. The returned model is the
 * caller's to dispose.
 * @example const { file, model } = await readLayersFile(tf, 'my-model/model.json'); model.dispose();
 */
export async function readLayersFile(tf: TF, modelJson: string): Promise<{ file: LayersFile; model: LayersModel }> {
  const path = resolve(modelJson);
  const { topology, manifest } = readManifest(path);
  const { byName, dequantized } = readWeights(tf, path, manifest);
  const model = await modelFromTopology(tf, topology, path);
  try {
    const names = weightNames(model);
    const tensors = model.weights.map((w, i) => {
      const t = takeWeight(byName, w.originalName);
      if (!t) return fail(path, `weight ${w.originalName} (shape [${w.shape.join(', ')}]) of the model is not in the weights manifest`);
      if (t.shape.length !== w.shape.length || t.shape.some((d, k) => d !== w.shape[k])) {
        fail(path, `weight ${w.originalName}: the manifest gives shape [${t.shape.join(', ')}], its layer needs [${w.shape.join(', ')}]`);
      }
      return { name: names[i] as string, shape: [...w.shape] as number[], data: t.data };
    });
    const extra = [...byName].filter(([, list]) => list.length > 0).map(([name]) => name);
    if (extra.length)
      fail(
        path,
        `the weights manifest has weights no layer of the model takes: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}`,
      );
    return { file: { path, topology, tensors, dequantized }, model };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
