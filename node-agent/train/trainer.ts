/** Local training and evaluation of the round's model on an institution's own rows. */
import type { LayersModel, Optimizer, Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import { createPrng } from '../../crypto/prng.js';
import type { NamedTensor } from '../../protocol/codec.js';
import { CohortError } from '../../protocol/errors.js';
import type { LocalMetrics, TrainConfig } from '../../protocol/messages.js';
import { outputUnits, taskOf, type ModelSpec, type Task } from '../../protocol/model-spec.js';
import { rowWidth } from '../data/dataset.js';
import { batchFeed, isStreamed, type AnyDataset } from '../data/row-stream.js';
import { imputeMissing, normalize } from '../data/stats.js';
import type { TF } from './backend.js';
import { buildModel, getNamedWeights, setNamedWeights } from './model.js';
import { buildLayersModel, getLayersWeights, setLayersWeights } from './layers-model.js';
import { hasConvLayers } from './wasm-trainable.js';
import { freezeBatchNormStatistics } from './fine-tune.js';
import { hasWasmGradKernels } from './wasm-grad-kernels.js';
import { balancedClassWeights, makeOptimizer, rowLoss, taskAccuracy, taskLoss } from './loss.js';
import { binaryScores, multilabelScores, regressionScores } from './metrics.js';

export interface TrainArgs {
  tf: TF;
  spec: ModelSpec;
  weights: NamedTensor[];
  /** In memory, or streamed from disk (images): the same rows, order and values give the same result. */
  data: AnyDataset;
  config: TrainConfig;
  /**
   * A 'layers' spec only: the tensors that do not travel (frozen, and FedBN-local: the site's own current values),
   * set in the model with `weights` before training.
   */
  base?: NamedTensor[];
  /** Share of the rows held out for validation metrics; default 0.1, 0 for none. */
  valFraction?: number;
  /** Drives the validation split and the per-epoch shuffles; default 0. Vary it by round. */
  seed?: number;
  onEpoch?: (epoch: number, logs: { loss: number; accuracy: number }) => void;
  /** Changes each training batch's inputs in place before they become a tensor (image augmentation); never applied to evaluation. */
  augmentBatch?: (x: Float32Array, rows: number, seed: number) => void;
}

export interface TrainResult {
  /** The travelling tensors after training (a 'layers' spec: its 'trained' tensors only). */
  weights: NamedTensor[];
  /** A 'layers' spec with FedBN: the site's 'local' tensors after training, for it to keep; absent otherwise. */
  local?: NamedTensor[];
  metrics: LocalMetrics;
  trainSamples: number;
}

/** A task's validation scores as LocalMetrics and EvaluationReport carry them (each present only for its tasks). */
export type TaskScores = Pick<
  LocalMetrics,
  'valAccuracy' | 'valAuc' | 'valSensitivity' | 'valSpecificity' | 'valBrier' | 'valMacroF1' | 'valMae' | 'valRmse' | 'valR2'
>;

export interface Evaluation {
  /** The task's loss (cross-entropy, binary cross-entropy, mean binary cross-entropy over labels, or MSE). */
  loss: number;
  /** Share of correct predictions (mean per-label accuracy for multilabel); NaN for regression, which has none. */
  accuracy: number;
  /** Predicted class index per row (binary: 1 when the probability reaches the threshold; 0 for multilabel and regression). */
  predicted: Int32Array;
  /** The model's outputs, rows x outputUnits(spec): probabilities, or predicted values for regression. */
  outputs: Float32Array;
  /** The scores a site reports for its task. */
  scores: TaskScores;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The spec's model with the given weights (and, for a 'layers' spec, its base) loaded. */
async function loadedModel(tf: TF, spec: ModelSpec, weights: NamedTensor[], base: NamedTensor[] | undefined): Promise<LayersModel> {
  if (spec.arch !== 'layers') {
    const model = buildModel(tf, spec);
    try {
      setNamedWeights(model, weights);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  }
  if (!base)
    throw new CohortError(
      'MODEL_BASE_MISMATCH',
      'this user model needs its base tensors (frozen or local) at the site: start the agent with --model PATH',
    );
  const model = await buildLayersModel(tf, spec);
  if (spec.layers?.trainLayers) freezeBatchNormStatistics(model);
  try {
    setLayersWeights(tf, model, spec, [...base, ...weights]);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** The data as the model sees it: checked against the spec and z-scored when the spec says so (tabular data, in memory). */
function prepare(spec: ModelSpec, data: AnyDataset): AnyDataset {
  const width = spec.inputShape.reduce((a, b) => a * b, 1);
  if (rowWidth(data) !== width)
    throw new CohortError('SHAPE_MISMATCH', `data rows have ${rowWidth(data)} values, the model's input needs ${width}`);
  if (data.classes.length !== spec.classes.length || data.classes.some((c, i) => c !== spec.classes[i])) {
    throw new CohortError(
      'SHAPE_MISMATCH',
      `data classes [${data.classes.join(', ')}] differ from the model's [${spec.classes.join(', ')}]`,
    );
  }
  const task = taskOf(spec);
  if ((task === 'multilabel' || task === 'regression') && data.targets?.length !== data.n * spec.classes.length) {
    throw new CohortError(
      'SHAPE_MISMATCH',
      `a ${task} task needs ${spec.classes.length} target values per row (${spec.classes.join(', ')}); the data has ${data.targets ? data.targets.length / Math.max(data.n, 1) : 'none'}`,
    );
  }
  if (isStreamed(data)) {
    if (spec.preprocessing || spec.normalization)
      throw new CohortError('SHAPE_MISMATCH', 'a streamed (image) data set takes no tabular preprocessing or feature normalisation');
    return data;
  }
  const filled = spec.preprocessing ? imputeMissing(data, spec.preprocessing) : data;
  return spec.normalization ? normalize(filled, spec.normalization) : filled;
}

/**
 * The spec's per-channel image normalisation as an in-place step on a batch's inputs, `(v - mean[c]) / std[c]` with
 * channels interleaved; undefined when the spec has none (or its pooled values are not filled in yet: refused).
 */
function channelStep(spec: ModelSpec): ((x: Float32Array) => void) | undefined {
  const norm = spec.channelNormalization;
  if (!norm) return undefined;
  const { mean, std } = norm;
  if (!mean || !std)
    throw new CohortError(
      'SHAPE_MISMATCH',
      "the spec's pooled channel normalisation has no values yet (the coordinator fills them before round 1)",
    );
  const c = mean.length;
  return (x) => {
    for (let k = 0; k < x.length; k++) x[k] = ((x[k] as number) - (mean[k % c] as number)) / (std[k % c] as number);
  };
}

/** Row indices cut into batches of `size`, in order. */
function chunks(rows: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < rows.length; start += size) out.push(rows.slice(start, start + size));
  return out;
}

/**
 * The true values of a row as the model's output is laid out: one-hot (classification), the 0/1 label (binary),
 * the targets (multilabel, regression).
 */
function truthInto(task: Task, ds: AnyDataset, row: number, out: Float32Array, at: number, units: number): void {
  if (task === 'classification') out[at + (ds.y[row] as number)] = 1;
  else if (task === 'binary') out[at] = ds.y[row] as number;
  else out.set((ds.targets as Float32Array).subarray(row * units, (row + 1) * units), at);
}

/** A batch's inputs `x` (its rows' values, as read) as a tensor shaped [batch, ...inputShape], their true values, and sample weights if any. */
function batchTensors(
  tf: TF,
  spec: ModelSpec,
  ds: AnyDataset,
  rows: readonly number[],
  x: Float32Array,
  classWeights?: number[],
): { xs: Tensor; ys: Tensor; ws?: Tensor } {
  const units = outputUnits(spec);
  const task = taskOf(spec);
  const size = rows.length;
  const y = new Float32Array(size * units);
  const w = classWeights ? new Float32Array(size) : undefined;
  for (let i = 0; i < size; i++) {
    const row = rows[i] as number;
    truthInto(task, ds, row, y, i * units, units);
    if (w) w[i] = classWeights?.[ds.y[row] as number] as number;
  }
  return { xs: tf.tensor(x, [size, ...spec.inputShape]), ys: tf.tensor2d(y, [size, units]), ...(w ? { ws: tf.tensor1d(w) } : {}) };
}

/** The task's scores of a model's outputs against the rows' true values. */
function scoreOutputs(
  spec: ModelSpec,
  ds: AnyDataset,
  rows: ArrayLike<number>,
  outputs: Float32Array,
  threshold: number,
): { accuracy: number; predicted: Int32Array; scores: TaskScores } {
  const task = taskOf(spec);
  const units = outputUnits(spec);
  const n = rows.length;
  const truth = new Float32Array(n * units);
  for (let i = 0; i < n; i++) truthInto(task, ds, rows[i] as number, truth, i * units, units);
  const predicted = new Int32Array(n);
  if (task === 'classification') {
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < units; c++) if ((outputs[i * units + c] as number) > (outputs[i * units + best] as number)) best = c;
      predicted[i] = best;
      if (best === ds.y[rows[i] as number]) correct++;
    }
    const accuracy = correct / Math.max(n, 1);
    return { accuracy, predicted, scores: { valAccuracy: accuracy } };
  }
  if (task === 'binary') {
    for (let i = 0; i < n; i++) predicted[i] = (outputs[i] as number) >= threshold ? 1 : 0;
    const b = binaryScores(outputs, truth, threshold);
    const scores: TaskScores = { valAccuracy: b.accuracy, valSensitivity: b.sensitivity, valSpecificity: b.specificity, valBrier: b.brier };
    if (b.auc !== null) scores.valAuc = b.auc;
    return { accuracy: b.accuracy, predicted, scores };
  }
  if (task === 'multilabel') {
    const m = multilabelScores(outputs, truth, spec.classes, threshold);
    const scores: TaskScores = { valAccuracy: m.accuracy, valMacroF1: m.macro.f1 };
    if (m.macro.auc !== null) scores.valAuc = m.macro.auc;
    return { accuracy: m.accuracy, predicted, scores };
  }
  const r = regressionScores(outputs, truth, spec.classes).mean;
  return { accuracy: Number.NaN, predicted, scores: { valMae: r.mae, valRmse: r.rmse, valR2: r.r2 } };
}

/** The task's loss, accuracy, outputs and scores of a built model over some rows. */
async function evaluateModel(
  tf: TF,
  spec: ModelSpec,
  model: LayersModel,
  ds: AnyDataset,
  rows: readonly number[],
  batchSize: number,
  threshold: number,
): Promise<Evaluation> {
  const task = taskOf(spec);
  const units = outputUnits(spec);
  const normalizeChannels = channelStep(spec);
  const parts: Float32Array[] = [];
  const seen: number[] = []; // the rows evaluated: all of them, unless a streamed file turned bad (--on-bad-file skip)
  let lossSum = 0;
  for await (const batch of batchFeed(ds, chunks(rows, batchSize))) {
    if (batch.rows.length === 0) continue;
    normalizeChannels?.(batch.x);
    const { xs, ys } = batchTensors(tf, spec, ds, batch.rows, batch.x);
    try {
      const out = model.predict(xs) as Tensor;
      const loss = tf.tidy(() => rowLoss(tf, task, out, ys));
      parts.push((await out.data()) as Float32Array);
      for (const l of (await loss.data()) as Float32Array) lossSum += l;
      tf.dispose([out, loss]);
    } finally {
      tf.dispose([xs, ys]);
    }
    seen.push(...batch.rows);
    await yieldToEventLoop();
  }
  const outputs = new Float32Array(seen.length * units);
  parts.reduce((at, p) => (outputs.set(p, at), at + p.length), 0);
  const n = Math.max(seen.length, 1);
  return { loss: lossSum / n, outputs, ...scoreOutputs(spec, ds, seen, outputs, threshold) };
}

/** What a custom training step adds to the task's loss. */
interface StepTerms {
  task: Task;
  /** FedProx: (mu/2)·||w − anchor||² with `anchors` in `model.trainableWeights` order. */
  mu: number;
  anchors: Tensor[];
  /** L2 weight decay in the loss, (lambda/2)·||w||² (sgd and momentum). */
  l2: number;
  /** Decoupled weight decay after the step, w <- w − lr·lambda·w (adam: AdamW). */
  decoupled: number;
}

/**
 * One optimizer step on the batch's task loss (sample-weighted when `ws` is given) plus the FedProx and L2 terms,
 * then decoupled weight decay when asked. Returns the batch's task loss and accuracy (NaN for regression), not the
 * added terms.
 */
async function customStep(
  tf: TF,
  model: LayersModel,
  optimizer: Optimizer,
  terms: StepTerms,
  xs: Tensor,
  ys: Tensor,
  ws?: Tensor,
): Promise<[number, number]> {
  const vars = model.trainableWeights.map((w) => w.read() as Variable);
  let loss: Scalar | undefined;
  let acc: Scalar | null = null;
  optimizer.minimize(
    () => {
      const output = model.apply(xs, { training: true }) as Tensor;
      let total = taskLoss(tf, terms.task, output, ys, ws);
      loss = tf.keep(tf.clone(total)); // minimize disposes the cost it is given: report a copy
      const a = taskAccuracy(tf, terms.task, output, ys);
      acc = a ? tf.keep(a) : null;
      if (terms.mu > 0) {
        const distance = tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, terms.anchors[i] as Tensor)))));
        total = tf.add(total, tf.mul(distance, terms.mu / 2));
      }
      if (terms.l2 > 0) total = tf.add(total, tf.mul(tf.addN(vars.map((v) => tf.sum(tf.square(v)))), terms.l2 / 2));
      return total;
    },
    false,
    vars,
  );
  if (terms.decoupled > 0) tf.tidy(() => vars.forEach((v) => v.assign(tf.mul(v, 1 - terms.decoupled))));
  try {
    const l = ((await (loss as Scalar).data()) as Float32Array)[0] as number;
    const a = acc ? (((await (acc as Scalar).data()) as Float32Array)[0] as number) : Number.NaN;
    return [l, a];
  } finally {
    tf.dispose([loss as Scalar, ...(acc ? [acc as Scalar] : [])]);
  }
}

/** Balanced class weights from the training rows' labels (classification and binary only), or undefined when not asked. */
function classWeightsOf(spec: ModelSpec, ds: AnyDataset, trainRows: readonly number[], config: TrainConfig): number[] | undefined {
  if (config.classWeight !== 'balanced') return undefined;
  const task = taskOf(spec);
  if (task !== 'classification' && task !== 'binary')
    throw new CohortError('BAD_REQUEST', `classWeight balanced applies to classification and binary tasks, not ${task}`);
  const counts = new Array<number>(spec.classes.length).fill(0);
  for (const row of trainRows) counts[ds.y[row] as number]! += 1;
  return balancedClassWeights(counts);
}

/**
 * Trains the given weights on the institution's rows with minibatches: the task's loss (categorical cross-entropy,
 * binary cross-entropy, mean binary cross-entropy over labels, or MSE), optionally sample-weighted by balanced class
 * weights, plus FedProx's (mu/2)·||w − w_start||² when `config.proximalMu` > 0 and weight decay when asked; the
 * optimizer (sgd, momentum or adam) is new each round. A classification with plain SGD and no extra term is exactly
 * tfjs's trainOnBatch, as before tasks existed. Holds out `valFraction` of the rows for validation metrics. Yields to the
 * event loop after every batch; disposes every tensor it makes. Throws NON_FINITE when the loss diverges.
 * @example const { weights, metrics } = await trainLocal({ tf, spec, weights: global, data, config: { localEpochs: 1, batchSize: 10, learningRate: 0.1 } });
 */
export async function trainLocal(args: TrainArgs): Promise<TrainResult> {
  const startedAt = Date.now();
  const { tf, spec, config } = args;
  const valFraction = args.valFraction ?? 0.1;
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  if (tf.getBackend() === 'wasm' && !hasWasmGradKernels(tf) && hasConvLayers(spec)) {
    throw new Error(
      "the wasm backend cannot train conv layers without Cohort's Conv2D gradient kernels (load it with selectBackend); pick one with backendForSpec(spec, backend)",
    );
  }
  const ds = prepare(spec, args.data);
  const rng = createPrng(args.seed ?? 0);
  const order = rng.shuffle(Array.from({ length: ds.n }, (_, i) => i));
  const valCount = Math.min(Math.floor(ds.n * valFraction + 1e-9), ds.n - 1);
  const valRows = order.slice(0, valCount);
  const trainRows = order.slice(valCount);
  if (trainRows.length === 0) throw new CohortError('BAD_SAMPLE_COUNT', 'no rows to train on');

  const model = await loadedModel(tf, spec, args.weights, args.base);
  const optimizer = makeOptimizer(tf, config);
  const mu = config.proximalMu ?? 0;
  const task = taskOf(spec);
  const classWeights = classWeightsOf(spec, ds, trainRows, config);
  const decay = config.weightDecay ?? 0;
  const adam = config.optimizer === 'adam';
  const terms: StepTerms = { task, mu, anchors: [], l2: adam ? 0 : decay, decoupled: adam ? config.learningRate * decay : 0 };
  // Today's path, bit for bit: classification with plain SGD and nothing added trains with tfjs's trainOnBatch.
  const plain = task === 'classification' && mu === 0 && decay === 0 && !classWeights && (config.optimizer ?? 'sgd') === 'sgd';
  try {
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    if (mu > 0) terms.anchors = model.trainableWeights.map((w) => w.read().clone());
    const normalizeChannels = channelStep(spec);
    let trainLoss = Number.NaN;
    let trainAccuracy = Number.NaN;
    for (let epoch = 0; epoch < config.localEpochs; epoch++) {
      rng.shuffle(trainRows);
      let lossSum = 0;
      let accSum = 0;
      let rowsSeen = 0;
      let start = 0;
      for await (const batch of batchFeed(ds, chunks(trainRows, config.batchSize))) {
        const seed = ((args.seed ?? 0) * 1_000_003 + epoch * 65_537 + start) >>> 0;
        start += config.batchSize;
        const size = batch.rows.length;
        if (size === 0) continue; // every file of the batch turned bad while streaming (--on-bad-file skip)
        normalizeChannels?.(batch.x);
        args.augmentBatch?.(batch.x, size, seed);
        const { xs, ys, ws } = batchTensors(tf, spec, ds, batch.rows, batch.x, classWeights);
        let loss: number | undefined;
        let acc: number | undefined;
        try {
          [loss, acc] = plain
            ? ((await model.trainOnBatch(xs, ys)) as number[])
            : await customStep(tf, model, optimizer, terms, xs, ys, ws);
        } finally {
          tf.dispose([xs, ys, ...(ws ? [ws] : [])]);
        }
        if (!Number.isFinite(loss)) {
          throw new CohortError(
            'NON_FINITE',
            `training diverged: loss ${loss} in epoch ${epoch + 1}; lower the learning rate (now ${config.learningRate})`,
          );
        }
        lossSum += (loss as number) * size;
        accSum += (acc as number) * size;
        rowsSeen += size;
        await yieldToEventLoop();
      }
      trainLoss = lossSum / rowsSeen;
      trainAccuracy = accSum / rowsSeen;
      args.onEpoch?.(epoch + 1, { loss: trainLoss, accuracy: trainAccuracy });
    }
    const split = spec.arch === 'layers' ? getLayersWeights(model, spec) : undefined;
    const weights = split ? split.trained : getNamedWeights(model);
    const metrics: LocalMetrics = {
      trainLoss,
      ...(task === 'regression' ? {} : { trainAccuracy }),
      epochs: config.localEpochs,
      durationMs: 0,
    };
    if (valRows.length > 0) {
      const val = await evaluateModel(tf, spec, model, ds, valRows, Math.max(config.batchSize, 256), 0.5);
      Object.assign(metrics, { valLoss: val.loss, ...val.scores, valSamples: valRows.length });
    }
    metrics.durationMs = Date.now() - startedAt;
    return { weights, ...(split && split.local.length ? { local: split.local } : {}), metrics, trainSamples: trainRows.length };
  } finally {
    tf.dispose(terms.anchors);
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Loss, accuracy, outputs, per-row predictions and the task's scores of the given weights on a dataset (normalised
 * per the spec); `threshold` (default 0.5) decides a positive for binary and multilabel tasks.
 * @example const { accuracy } = await evaluate({ tf, spec, weights, data: testSet });
 */
export async function evaluate(args: {
  tf: TF;
  spec: ModelSpec;
  weights: NamedTensor[];
  data: AnyDataset;
  batchSize?: number;
  threshold?: number;
  base?: NamedTensor[];
}): Promise<Evaluation> {
  const { tf, spec } = args;
  const ds = prepare(spec, args.data);
  const model = await loadedModel(tf, spec, args.weights, args.base);
  try {
    const rows = Array.from({ length: ds.n }, (_, i) => i);
    return await evaluateModel(tf, spec, model, ds, rows, args.batchSize ?? 256, args.threshold ?? 0.5);
  } finally {
    model.dispose();
  }
}
