/** A user's Layers model in TensorFlow.js: built from a spec's topology, its tensors' names and roles, its weights in and out by name. */
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import { CohortError } from '../../protocol/errors.js';
import { baseHash, layerClasses, type LayersSpec, type LayersTensor, type TensorRole } from '../../protocol/layers-spec.js';
import type { ModelSpec } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';

/**
 * Builds the model a Layers topology describes (weights freshly initialised). An unknown layer class is refused
 * naming it; `source` names the file or spec in messages.
 * @example const model = await modelFromTopology(tf, spec.layers.topology, 'the federation spec');
 */
export async function modelFromTopology(tf: TF, topology: Record<string, unknown>, source: string): Promise<LayersModel> {
  try {
    return await tf.models.modelFromJSON({ modelTopology: topology } as never);
  } catch (cause) {
    const message = (cause as Error).message ?? String(cause);
    const unknown = /Unknown (?:layer|class(?:_name)?): ([A-Za-z0-9_.>-]+)/.exec(message);
    if (unknown) {
      throw new Error(
        `${source}: unknown layer class ${unknown[1]}: TF.js Layers has no such layer (custom layers are not supported); layers in the model: ${[...new Set(layerClasses(topology))].join(', ')}`,
        { cause },
      );
    }
    throw new Error(`${source}: TF.js cannot build the model from its topology: ${message.split('\n')[0]}`, { cause });
  }
}

/**
 * The name of each of `model.weights`: its `originalName` (what model.json's manifest names it), with `#2`, `#3`...
 * appended to the second and later weights that share one, so every name is unique.
 * @example weightNames(model) // ['conv2d/kernel', 'conv2d/bias', ...]
 */
export function weightNames(model: LayersModel): string[] {
  const seen = new Map<string, number>();
  return model.weights.map((w) => {
    const n = (seen.get(w.originalName) ?? 0) + 1;
    seen.set(w.originalName, n);
    return n === 1 ? w.originalName : `${w.originalName}#${n}`;
  });
}

/** Each weight variable of the model with the layer it belongs to and whether that layer (and every enclosing model) trains. */
function weightOwners(model: LayersModel): Map<object, { className: string; trainable: boolean }> {
  const owners = new Map<object, { className: string; trainable: boolean }>();
  const walk = (layers: LayersModel['layers'], trainable: boolean): void => {
    for (const layer of layers) {
      const inner = (layer as unknown as { layers?: LayersModel['layers'] }).layers;
      if (Array.isArray(inner)) walk(inner, trainable && layer.trainable);
      else for (const w of layer.weights) owners.set(w, { className: layer.getClassName(), trainable: trainable && layer.trainable });
    }
  };
  walk(model.layers, true);
  return owners;
}

/**
 * The role of every weight, in `model.weights` order: weights of trainable layers are 'trained', BatchNormalization's
 * moving mean and variance included (aggregated like weights); with `fedbn`, every tensor of a BatchNormalization
 * layer is 'local' (kept at the site); weights of layers with `trainable: false` are 'frozen'.
 * @example tensorRoles(model, { fedbn: false }).map((t) => t.role) // ['frozen', 'frozen', 'trained', ...]
 */
export function tensorRoles(model: LayersModel, opts: { fedbn?: boolean } = {}): LayersTensor[] {
  const owners = weightOwners(model);
  const names = weightNames(model);
  return model.weights.map((w, i) => {
    const owner = owners.get(w) ?? { className: '', trainable: w.trainable };
    const role: TensorRole = owner.className === 'BatchNormalization' && opts.fedbn ? 'local' : owner.trainable ? 'trained' : 'frozen';
    return { name: names[i] as string, shape: [...w.shape] as number[], role };
  });
}

/**
 * A spec's `layers` part for a model read from a file: its topology, roles, and the hash of its frozen and local
 * tensors (`baseHash` of protocol/layers-spec.ts) taken from `tensors`, the file's weights.
 * @example const layers = layersSpecOf(file.topology, model, file.tensors, { fedbn: true });
 */
export function layersSpecOf(
  topology: Record<string, unknown>,
  model: LayersModel,
  tensors: NamedTensor[],
  opts: { fedbn?: boolean } = {},
): LayersSpec {
  const roles = tensorRoles(model, opts);
  if (!roles.some((t) => t.role === 'trained'))
    throw new Error('the model has no trainable tensor (every layer is trainable: false): nothing to federate');
  const spec: LayersSpec = { topology, tensors: roles, ...(opts.fedbn ? { fedbn: true } : {}) };
  return roles.some((t) => t.role !== 'trained') ? { ...spec, baseHash: baseHash(spec, tensors) } : spec;
}

/**
 * The input shape (batch dimension dropped) of a model with one input and fully known dimensions; throws otherwise.
 * @example modelInputShape(model) // [28, 28, 1]
 */
export function modelInputShape(model: LayersModel): number[] {
  if (model.inputs.length !== 1) throw new Error(`the model has ${model.inputs.length} inputs; Cohort feeds one`);
  const shape = (model.inputs[0]?.shape ?? []).slice(1);
  if (shape.length === 0 || shape.length > 3 || shape.some((d) => d === null || d <= 0)) {
    throw new Error(
      `the model's input shape [${(model.inputs[0]?.shape ?? []).map(String).join(', ')}] needs 1 to 3 fixed dimensions after the batch`,
    );
  }
  return shape as number[];
}

/**
 * Builds a 'layers' spec's model and checks that its weights are the spec's tensors (names and shapes), else
 * throws SHAPE_MISMATCH naming the first difference.
 * @example const model = await buildLayersModel(tf, spec);
 */
export async function buildLayersModel(tf: TF, spec: ModelSpec): Promise<LayersModel> {
  if (!spec.layers) throw new Error(`spec arch ${spec.arch} is not a Layers model`);
  const model = await modelFromTopology(tf, spec.layers.topology, 'the federation spec');
  const names = weightNames(model);
  const want = spec.layers.tensors;
  const bad =
    want.length !== names.length ? -1 : want.findIndex((t, i) => t.name !== names[i] || t.shape.join() !== model.weights[i]?.shape.join());
  if (bad !== -1) {
    model.dispose();
    const at =
      bad === -1
        ? `${names.length} weights, the spec lists ${want.length}`
        : `weight ${bad}: ${names[bad]} [${model.weights[bad]?.shape.join(', ')}], the spec says ${want[bad]?.name} [${want[bad]?.shape.join(', ')}]`;
    throw new CohortError('SHAPE_MISMATCH', `the topology's model does not match the spec's tensors: ${at}`);
  }
  return model;
}

/**
 * Sets every weight of a 'layers' spec's model from named tensors (the travelling ones and the site's base, any
 * order; a name given twice takes its last value). Throws naming a tensor that is missing or of the wrong shape.
 * @example setLayersWeights(model, spec, [...base, ...global]);
 */
export function setLayersWeights(tf: TF, model: LayersModel, spec: ModelSpec, tensors: NamedTensor[]): void {
  const given = new Map(tensors.map((t) => [t.name, t]));
  const values = (spec.layers as LayersSpec).tensors.map((want) => {
    const t = given.get(want.name);
    if (!t)
      throw new CohortError(
        want.role === 'trained' ? 'SHAPE_MISMATCH' : 'MODEL_BASE_MISMATCH',
        `tensor ${want.name} (${want.role}) is missing`,
      );
    if (t.data.length !== want.shape.reduce((a, b) => a * b, 1))
      throw new CohortError(
        'SHAPE_MISMATCH',
        `tensor ${want.name}: ${t.data.length} values, shape [${want.shape.join(', ')}] needs more or fewer`,
      );
    return t;
  });
  const made: Tensor[] = values.map((t, i) => tf.tensor(t.data.slice(), (spec.layers as LayersSpec).tensors[i]!.shape, 'float32'));
  try {
    model.setWeights(made);
  } finally {
    tf.dispose(made);
  }
}

/**
 * Copies of every weight of a 'layers' spec's model, named as in the spec, split by role.
 * @example const { trained, local } = getLayersWeights(model, spec);
 */
export function getLayersWeights(model: LayersModel, spec: ModelSpec): Record<TensorRole, NamedTensor[]> {
  const out: Record<TensorRole, NamedTensor[]> = { trained: [], frozen: [], local: [] };
  const values = model.getWeights();
  (spec.layers as LayersSpec).tensors.forEach((t, i) => {
    out[t.role].push({ name: t.name, shape: [...t.shape], data: Float32Array.from((values[i] as Tensor).dataSync() as Float32Array) });
  });
  return out;
}
