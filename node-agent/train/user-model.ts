/** A user's Layers model file as a federation needs it: the spec's layers part, the initial global tensors, and the base a site holds. */
import type { NamedTensor } from '../../protocol/codec.js';
import { CohortError } from '../../protocol/errors.js';
import { baseHash, describeLayersModel, type LayersSpec } from '../../protocol/layers-spec.js';
import type { ModelSpec } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';
import { readLayersFile } from './layers-file.js';
import { layersSpecOf, modelInputShape } from './layers-model.js';

/** What a coordinator (or simulation) takes from a user's model file. */
export interface UserModel {
  path: string;
  /** The spec's `layers` part: topology, tensors with roles, base hash, FedBN. */
  layers: LayersSpec;
  /** The model's input shape without the batch dimension. */
  inputShape: number[];
  /** The last layer with units: how many outputs and their activation (the task follows from it). */
  output: { outputLayer: string; units: number; activation: string } | null;
  /** The file's 'trained' tensors: the initial global model (version 0), pretrained values kept. */
  initial: NamedTensor[];
  /** The file's frozen and local tensors: the base every site must hold (pinned by `layers.baseHash`). */
  base: NamedTensor[];
  /** Weights stored quantized in the file and dequantized to float32 on reading. */
  dequantized: string[];
}

/**
 * Reads a Layers model.json and its shards (refusing a malformed file, naming the problem) and splits its weights
 * by role; `fedbn` makes BatchNormalization tensors 'local'.
 * @example const user = await readUserModel(tf, 'models/net/model.json', { fedbn: false }); user.layers.baseHash
 */
export async function readUserModel(tf: TF, path: string, opts: { fedbn?: boolean } = {}): Promise<UserModel> {
  const { file, model } = await readLayersFile(tf, path);
  try {
    let layers: LayersSpec;
    let inputShape: number[];
    try {
      layers = layersSpecOf(file.topology, model, file.tensors, opts);
      inputShape = modelInputShape(model);
    } catch (cause) {
      throw new Error(`${file.path}: ${(cause as Error).message}`, { cause });
    }
    const trained = new Set(layers.tensors.filter((t) => t.role === 'trained').map((t) => t.name));
    return {
      path: file.path,
      layers,
      inputShape,
      output: describeLayersModel(file.topology),
      initial: file.tensors.filter((t) => trained.has(t.name)),
      base: file.tensors.filter((t) => !trained.has(t.name)),
      dequantized: file.dequantized,
    };
  } finally {
    model.dispose();
  }
}

/**
 * The base tensors (frozen and local) a site holds for a 'layers' spec, from its own copy of the model file, checked
 * against the spec's pin: throws MODEL_BASE_MISMATCH saying why when the file is unreadable, lacks a tensor, or its
 * hash is not `spec.layers.baseHash`.
 * @example const base = await siteBase(tf, spec, '/data/model/model.json');
 */
export async function siteBase(tf: TF, spec: ModelSpec, path: string | undefined): Promise<NamedTensor[]> {
  if (!spec.layers) return [];
  const pinned = spec.layers.baseHash;
  const needed = spec.layers.tensors.filter((t) => t.role !== 'trained');
  if (needed.length === 0) return [];
  if (!path)
    throw new CohortError(
      'MODEL_BASE_MISMATCH',
      `the federation's model has ${needed.length} frozen or local tensors this site must hold: start the agent with --model PATH to the model.json`,
    );
  let tensors: NamedTensor[];
  try {
    const { file, model } = await readLayersFile(tf, path);
    model.dispose();
    tensors = file.tensors;
  } catch (cause) {
    throw new CohortError('MODEL_BASE_MISMATCH', `cannot read the site's base model: ${(cause as Error).message}`, { cause });
  }
  let held: string;
  try {
    held = baseHash(spec.layers, tensors);
  } catch (cause) {
    throw new CohortError('MODEL_BASE_MISMATCH', `${path} is not the federation's base: ${(cause as Error).message}`, { cause });
  }
  if (held !== pinned) {
    throw new CohortError(
      'MODEL_BASE_MISMATCH',
      `${path} holds base ${held.slice(0, 16)}…, the federation's model pins ${String(pinned).slice(0, 16)}…: its frozen or local tensors differ; get the study's model file`,
    );
  }
  const names = new Set(needed.map((t) => t.name));
  return tensors.filter((t) => names.has(t.name));
}
