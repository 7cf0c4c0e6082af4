/** A minimal reader of a TF.js Layers model file (model.json and its weight shards) into loadable artifacts. Replaceable by a fuller reader. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { io } from '@tensorflow/tfjs';

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };

interface ModelJson {
  format?: string;
  modelTopology?: object;
  weightsManifest?: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
}

/**
 * The artifacts of `path` (a model.json with format 'layers-model') with its shards, read from the folder beside it
 * in manifest order, ready for `tf.loadLayersModel(tf.io.fromMemory(artifacts))`. Throws naming the file for a
 * missing topology, a missing shard, a quantized weight, or shards whose size is not what the weights need.
 * @example const model = await tf.loadLayersModel(tf.io.fromMemory(readLayersFile('model/model.json')))
 */
export function readLayersFile(path: string): io.ModelArtifacts {
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as ModelJson;
  } catch (cause) {
    throw new Error(`${path}: not a readable model.json (${(cause as Error).message})`, { cause });
  }
  if (json.format !== undefined && json.format !== 'layers-model') throw new Error(`${path}: format is '${json.format}', not a TF.js Layers model ('layers-model')`);
  if (!json.modelTopology) throw new Error(`${path}: no modelTopology: not a TF.js Layers model`);
  const groups = json.weightsManifest ?? [];
  const weightSpecs = groups.flatMap((g) => g.weights);
  const parts: Uint8Array[] = [];
  for (const group of groups) {
    for (const shard of group.paths) {
      const file = join(dirname(path), shard);
      if (!existsSync(file)) throw new Error(`${path}: weight shard ${shard} is missing (looked for ${file})`);
      parts.push(new Uint8Array(readFileSync(file)));
    }
  }
  const quantized = weightSpecs.find((w) => w.quantization);
  if (quantized) throw new Error(`${path}: weight ${quantized.name} is quantized; quantized weights are not read`);
  const needed = weightSpecs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[w.dtype] ?? Number.NaN), 0);
  const held = parts.reduce((n, p) => n + p.byteLength, 0);
  if (held !== needed) throw new Error(`${path}: the weight shards hold ${held} bytes, the manifest's ${weightSpecs.length} weights need ${needed}`);
  const weightData = new Uint8Array(held);
  let at = 0;
  for (const p of parts) {
    weightData.set(p, at);
    at += p.byteLength;
  }
  return { modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer };
}
