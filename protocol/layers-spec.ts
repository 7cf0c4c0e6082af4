/** A user's TensorFlow.js Layers model in a spec: its topology, its named tensors with their roles, and the hash that pins its base. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { NamedTensor } from './codec.js';

/**
 * What happens to a tensor: 'trained' tensors are trained, sent, aggregated and signed; 'frozen' ones (layers with
 * `trainable: false`) never change and never travel; 'local' ones (BatchNormalization under FedBN) change at each
 * site and stay there.
 */
export const TensorRoleSchema = z.enum(['trained', 'frozen', 'local']);
export type TensorRole = z.infer<typeof TensorRoleSchema>;

const positiveInt = z.number().int().positive();

/**
 * Fine-tuning (`--train-layers`): which layers of a pretrained model train and travel: the output layer only, the
 * last residual block and the head, or every layer. The others are frozen and pinned by `baseHash`.
 */
export const TrainLayersSchema = z.enum(['head', 'last-block', 'all']);
export type TrainLayers = z.infer<typeof TrainLayersSchema>;

export const LayersTensorSchema = z
  .object({ name: z.string().min(1).max(512), shape: z.array(positiveInt).max(8), role: TensorRoleSchema })
  .strict();
export type LayersTensor = z.infer<typeof LayersTensorSchema>;

/**
 * The `layers` part of a spec with `arch: 'layers'`: `topology` is model.json's `modelTopology` (a Keras
 * `{ model_config, ... }` or the model config itself); `tensors` are every weight of the model in the order
 * TensorFlow.js lists them (`model.weights`); `baseHash` is `baseHash(...)` of the file's weights.
 */
export const LayersSpecSchema = z
  .object({
    topology: z.record(z.string(), z.unknown()),
    tensors: z.array(LayersTensorSchema).min(1).max(100_000),
    baseHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256')
      .optional(),
    fedbn: z.boolean().optional(),
    /** Fine-tuning: the layers chosen to train; frozen BatchNormalization layers then run in inference mode. */
    trainLayers: TrainLayersSchema.optional(),
  })
  .strict()
  .superRefine((layers, ctx) => {
    const seen = new Set<string>();
    for (const t of layers.tensors) {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', message: `tensor name ${t.name} appears twice` });
      seen.add(t.name);
    }
    if (!layers.tensors.some((t) => t.role === 'trained'))
      ctx.addIssue({ code: 'custom', message: 'the model has no trainable tensor: nothing to federate' });
  });
export type LayersSpec = z.infer<typeof LayersSpecSchema>;

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * SHA-256 (hex) of the tensors a site must already hold: every 'frozen' and 'local' tensor of `layers.tensors`, in
 * that list's order, each as its UTF-8 name, a 0 byte, its rank and dimensions as little-endian uint32, then its
 * values as little-endian float32. Throws naming a tensor that is missing or has another shape.
 * @example const pin = baseHash(spec.layers, fileTensors); // spec.layers.baseHash === pin at every site
 */
export function baseHash(layers: Pick<LayersSpec, 'tensors'>, tensors: readonly NamedTensor[]): string {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const hash = createHash('sha256');
  for (const want of layers.tensors) {
    if (want.role === 'trained') continue;
    const t = byName.get(want.name);
    if (!t) throw new Error(`base tensor ${want.name} is missing`);
    if (t.shape.length !== want.shape.length || t.shape.some((d, i) => d !== want.shape[i]) || t.data.length !== sizeOf(want.shape)) {
      throw new Error(`base tensor ${want.name} has shape [${t.shape.join(', ')}], the spec says [${want.shape.join(', ')}]`);
    }
    const dims = new Uint32Array([want.shape.length, ...want.shape]);
    const values = Float32Array.from(t.data); // a copy: its own buffer, in this machine's (little-endian) order
    hash.update(Buffer.from(want.name, 'utf8')).update(new Uint8Array([0]));
    hash.update(new Uint8Array(dims.buffer)).update(new Uint8Array(values.buffer));
  }
  return hash.digest('hex');
}

/**
 * The tensors of one role, in the spec's order.
 * @example tensorsWithRole(spec.layers, 'frozen').map((t) => t.name) // ['conv2d_1/kernel', 'conv2d_1/bias']
 */
export function tensorsWithRole(layers: Pick<LayersSpec, 'tensors'>, role: TensorRole): LayersTensor[] {
  return layers.tensors.filter((t) => t.role === role);
}

/** A layer's config as model.json writes it. */
interface LayerJson {
  class_name?: string;
  config?: Record<string, unknown> & { layers?: LayerJson[]; name?: string };
}

/** The model config inside a topology: Keras's `model_config` when present, else the topology itself. */
function modelConfig(topology: Record<string, unknown>): LayerJson {
  return ((topology.model_config as LayerJson | undefined) ?? topology) as LayerJson;
}

/**
 * The last layer of a Layers topology that has `units` (Dense, usually the output): its units and activation, so a
 * caller can tell the task (softmax over k classes, one sigmoid, linear outputs). For a functional model, the layer
 * named first in `output_layers`. Null when no such layer is found.
 * @example describeLayersModel(spec.layers.topology) // { outputLayer: 'dense_2', units: 10, activation: 'softmax' }
 */
export function describeLayersModel(topology: Record<string, unknown>): { outputLayer: string; units: number; activation: string } | null {
  const config = modelConfig(topology).config;
  const layers = config?.layers ?? [];
  const outputs = (config?.output_layers as unknown[][] | undefined)?.[0]?.[0];
  const named = typeof outputs === 'string' ? layers.find((l) => l.config?.name === outputs) : undefined;
  const candidates = named ? [named] : [...layers].reverse();
  for (const layer of candidates) {
    const units = layer.config?.units;
    if (typeof units === 'number') {
      return {
        outputLayer: String(layer.config?.name ?? layer.class_name),
        units,
        activation: String(layer.config?.activation ?? 'linear'),
      };
    }
  }
  return null;
}

/**
 * Class names of every layer in a topology (nested models included), for messages and checks.
 * @example layerClasses(topology) // ['InputLayer', 'Conv2D', 'BatchNormalization', 'Add', 'Dense']
 */
export function layerClasses(topology: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (layer: LayerJson): void => {
    for (const l of layer.config?.layers ?? []) {
      if (l.class_name) out.push(l.class_name);
      walk(l);
    }
  };
  walk(modelConfig(topology));
  return out;
}
