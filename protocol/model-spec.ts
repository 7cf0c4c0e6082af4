/** The model's architecture as both sides agree on it: a spec, and the named tensor layout it implies. */
import { z } from 'zod';
import { PreprocessingSchema, featureNames } from './data-dictionary.js';
import { LayersSpecSchema } from './layers-spec.js';

/** The presets, and 'layers': a user's TensorFlow.js Layers model (protocol/layers-spec.ts). */
export const ArchSchema = z.enum(['logreg', 'mlp', 'cnn', 'layers']);
export type Arch = z.infer<typeof ArchSchema>;

/**
 * What the model predicts: one class of several (softmax), a yes/no outcome (one sigmoid unit), several yes/no
 * labels at once (one sigmoid unit each) or continuous targets (linear units). Absent in a spec: classification.
 */
export const TaskSchema = z.enum(['classification', 'binary', 'multilabel', 'regression']);
export type Task = z.infer<typeof TaskSchema>;

const positiveInt = z.number().int().positive();

export const NormalizationSchema = z.object({
  mean: z.array(z.number().finite()),
  std: z.array(z.number().finite().positive()),
});
export type Normalization = z.infer<typeof NormalizationSchema>;

/**
 * Image data: per-channel `(v - mean[c]) / std[c]` on pixels in [0, 1], the same values at every site. `pooled`: from
 * the sites' per-channel statistics, filled in by the coordinator before round 1 (mean and std absent until then).
 */
export const ChannelNormalizationSchema = z
  .object({
    source: z.literal('pooled'),
    mean: z.array(z.number().finite()).min(1).max(4).optional(),
    std: z.array(z.number().finite().positive()).min(1).max(4).optional(),
  })
  .strict();
export type ChannelNormalization = z.infer<typeof ChannelNormalizationSchema>;

/**
 * A model spec. `inputShape` is `[features]` for logreg/mlp, `[h, w, c]` for cnn, and the model's input without
 * the batch dimension for 'layers', whose topology, tensors and base pin are in `layers`.
 * `features` names the input columns in order (tabular data); `normalization` is a per-feature
 * z-score applied by the agent before training and inference.
 */
export const ModelSpecSchema = z
  .object({
    arch: ArchSchema,
    inputShape: z.array(positiveInt).min(1).max(3),
    hidden: z.array(positiveInt).max(8).optional(),
    /** The output names: class names (classification), [negative, positive] (binary), label or target columns. */
    classes: z.array(z.string().min(1)).min(1).max(10_000),
    features: z.array(z.string().min(1)).optional(),
    normalization: NormalizationSchema.optional(),
    /** Image data: per-channel normalisation all sites apply (docs/imaging.md). */
    channelNormalization: ChannelNormalizationSchema.optional(),
    task: TaskSchema.optional(),
    /** Tabular data: raw columns -> `features` (imputation, missing indicators, one-hot categories); see data-dictionary.ts. */
    preprocessing: PreprocessingSchema.optional(),
    layers: LayersSpecSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    if ((spec.arch === 'layers') !== (spec.layers !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: spec.arch === 'layers' ? "arch 'layers' needs layers (topology and tensors)" : `arch ${spec.arch} takes no layers`,
      });
    }
    const task = taskOf(spec);
    if (task === 'binary' && spec.classes.length !== 2) {
      ctx.addIssue({ code: 'custom', message: `a binary task names 2 classes [negative, positive], got ${spec.classes.length}` });
    }
    if (task === 'classification' && spec.classes.length < 2) {
      ctx.addIssue({ code: 'custom', message: 'a classification task needs at least 2 classes' });
    }
    if (new Set(spec.classes).size !== spec.classes.length)
      ctx.addIssue({ code: 'custom', message: `classes has duplicates: ${spec.classes.join(', ')}` });
    if (spec.arch === 'cnn' && spec.inputShape.length !== 3) {
      ctx.addIssue({ code: 'custom', message: 'cnn needs inputShape [height, width, channels]' });
    }
    if (spec.arch !== 'cnn' && spec.arch !== 'layers' && spec.inputShape.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `${spec.arch} needs inputShape [features]` });
    }
    const width = spec.inputShape.reduce((a, b) => a * b, 1);
    if (spec.features && spec.features.length !== width) {
      ctx.addIssue({ code: 'custom', message: `features has ${spec.features.length} names, inputShape needs ${width}` });
    }
    if (spec.preprocessing) {
      const names = featureNames(spec.preprocessing.columns);
      if (!spec.features || names.join('\u0000') !== spec.features.join('\u0000')) {
        ctx.addIssue({
          code: 'custom',
          message: `features must be the ${names.length} features the preprocessing's columns give (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`,
        });
      }
    }
    if (spec.normalization) {
      const { mean, std } = spec.normalization;
      if (mean.length !== width || std.length !== width) {
        ctx.addIssue({ code: 'custom', message: `normalization needs ${width} means and stds` });
      }
    }
    const channel = spec.channelNormalization;
    if (channel && (channel.mean?.length !== channel.std?.length || (channel.mean && width % channel.mean.length !== 0))) {
      ctx.addIssue({ code: 'custom', message: 'channelNormalization needs one mean and one std per image channel' });
    }
  });
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** One named tensor of a model: the unit the weight codec carries. */
export interface TensorLayout {
  name: string;
  shape: number[];
}

/** The last layer's activation (the task's head) or a hidden layer's relu. */
export type DenseActivation = 'relu' | 'softmax' | 'sigmoid' | 'linear';

export type LayerLayout =
  | { kind: 'dense'; name: string; units: number; inputUnits: number; activation: DenseActivation }
  | { kind: 'conv'; name: string; kernel: number; filters: number; inputChannels: number }
  | { kind: 'pool'; size: number }
  | { kind: 'flatten' };

/**
 * The spec's task; a spec without one is a classification (every spec written before tasks existed).
 * @example taskOf({ arch: 'logreg', inputShape: [4], classes: ['a', 'b'] }) // 'classification'
 */
export function taskOf(spec: Pick<ModelSpec, 'task'>): Task {
  return spec.task ?? 'classification';
}

/**
 * Units of the model's output layer: 1 for a binary task (the positive class's probability), else one per output name.
 * @example outputUnits({ task: 'binary', classes: ['no', 'yes'] }) // 1
 */
export function outputUnits(spec: Pick<ModelSpec, 'task' | 'classes'>): number {
  return taskOf(spec) === 'binary' ? 1 : spec.classes.length;
}

/**
 * The activation of a preset's last layer for a task: softmax (classification), sigmoid (binary, multilabel),
 * linear (regression).
 * @example headActivation('multilabel') // 'sigmoid'
 */
export function headActivation(task: Task): 'softmax' | 'sigmoid' | 'linear' {
  return task === 'classification' ? 'softmax' : task === 'regression' ? 'linear' : 'sigmoid';
}

/** Hidden units of the MLP when the spec names none: the "2NN" of McMahan et al. 2017. */
export const DEFAULT_MLP_HIDDEN = [200, 200] as const;

/**
 * The layers a spec implies, in order; both the coordinator's initialiser and the agent's
 * TensorFlow.js model are built from this list, so weight names always agree.
 * @example layersOf({ arch: 'logreg', inputShape: [784], classes: [...] }) // one softmax dense layer
 */
export function layersOf(spec: ModelSpec): LayerLayout[] {
  if (spec.arch === 'layers') return []; // a user's model: its layers are in spec.layers.topology
  const classes = outputUnits(spec);
  const head = headActivation(taskOf(spec));
  if (spec.arch === 'cnn') {
    const [h, w, c] = spec.inputShape as [number, number, number];
    const pooled = Math.floor(Math.floor(h / 2) / 2) * Math.floor(Math.floor(w / 2) / 2);
    return [
      { kind: 'conv', name: 'conv_0', kernel: 5, filters: 32, inputChannels: c },
      { kind: 'pool', size: 2 },
      { kind: 'conv', name: 'conv_1', kernel: 5, filters: 64, inputChannels: 32 },
      { kind: 'pool', size: 2 },
      { kind: 'flatten' },
      { kind: 'dense', name: 'dense_0', units: 512, inputUnits: pooled * 64, activation: 'relu' },
      { kind: 'dense', name: 'dense_1', units: classes, inputUnits: 512, activation: head },
    ];
  }
  const hidden = spec.arch === 'mlp' ? [...(spec.hidden ?? DEFAULT_MLP_HIDDEN)] : [];
  const sizes = [spec.inputShape[0] as number, ...hidden, classes];
  return sizes.slice(1).map((units, i) => ({
    kind: 'dense' as const,
    name: `dense_${i}`,
    units,
    inputUnits: sizes[i] as number,
    activation: i === sizes.length - 2 ? head : ('relu' as const),
  }));
}

/**
 * The named tensors that travel (kernel then bias of each weighted layer of a preset, in order; the 'trained'
 * tensors of a 'layers' spec, in the spec's order): what updates and global models carry.
 */
export function tensorLayout(spec: ModelSpec): TensorLayout[] {
  if (spec.layers) return spec.layers.tensors.filter((t) => t.role === 'trained').map(({ name, shape }) => ({ name, shape: [...shape] }));
  const out: TensorLayout[] = [];
  for (const layer of layersOf(spec)) {
    if (layer.kind === 'dense') {
      out.push({ name: `${layer.name}/kernel`, shape: [layer.inputUnits, layer.units] });
      out.push({ name: `${layer.name}/bias`, shape: [layer.units] });
    } else if (layer.kind === 'conv') {
      out.push({ name: `${layer.name}/kernel`, shape: [layer.kernel, layer.kernel, layer.inputChannels, layer.filters] });
      out.push({ name: `${layer.name}/bias`, shape: [layer.filters] });
    }
  }
  return out;
}

/** Number of parameters that travel (all of a preset's; the 'trained' ones of a 'layers' spec). */
export function parameterCount(spec: ModelSpec): number {
  return tensorLayout(spec).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Number of parameters of the whole model: for a 'layers' spec also its frozen and local tensors.
 * @example totalParameterCount(userSpec) - parameterCount(userSpec) // parameters that never leave a site
 */
export function totalParameterCount(spec: ModelSpec): number {
  const all = spec.layers ? spec.layers.tensors : tensorLayout(spec);
  return all.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** Canonical JSON of a value: object keys sorted, no whitespace; the bytes that get hashed and signed. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}
