/** Local training and evaluation of the round's model on an institution's own rows. */
import type { LayersModel, Optimizer, Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import { createPrng } from '../../crypto/prng.js';
import type { NamedTensor } from '../../protocol/codec.js';
import { CohortError } from '../../protocol/errors.js';
import type { LocalMetrics, TrainConfig } from '../../protocol/messages.js';
import { layersOf, type ModelSpec } from '../../protocol/model-spec.js';
import { rowWidth, type Dataset } from '../data/dataset.js';
import { imputeMissing, normalize } from '../data/stats.js';
import type { TF } from './backend.js';
import { buildModel, getNamedWeights, setNamedWeights } from './model.js';
import { hasWasmGradKernels } from './wasm-grad-kernels.js';

export interface TrainArgs {
  tf: TF;
  spec: ModelSpec;
  weights: NamedTensor[];
  data: Dataset;
  config: TrainConfig;
  /** Share of the rows held out for validation metrics; default 0.1, 0 for none. */
  valFraction?: number;
  /** Drives the validation split and the per-epoch shuffles; default 0. Vary it by round. */
  seed?: number;
  onEpoch?: (epoch: number, logs: { loss: number; accuracy: number }) => void;
  /** Changes each training batch's inputs in place before they become a tensor (image augmentation); never applied to evaluation. */
  augmentBatch?: (x: Float32Array, rows: number, seed: number) => void;
}

export interface TrainResult {
  weights: NamedTensor[];
  metrics: LocalMetrics;
  trainSamples: number;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** Predicted class index per row. */
  predicted: Int32Array;
}

const EPSILON = 1e-7; // tfjs's clip for cross-entropy
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The data as the model sees it: checked against the spec and z-scored when the spec says so. */
function prepare(spec: ModelSpec, data: Dataset): Dataset {
  const width = spec.inputShape.reduce((a, b) => a * b, 1);
  if (rowWidth(data) !== width) throw new CohortError('SHAPE_MISMATCH', `data rows have ${rowWidth(data)} values, the model's input needs ${width}`);
  if (data.classes.length !== spec.classes.length || data.classes.some((c, i) => c !== spec.classes[i])) {
    throw new CohortError('SHAPE_MISMATCH', `data classes [${data.classes.join(', ')}] differ from the model's [${spec.classes.join(', ')}]`);
  }
  const filled = spec.preprocessing ? imputeMissing(data, spec.preprocessing) : data;
  return spec.normalization ? normalize(filled, spec.normalization) : filled;
}

/** Input rows `rows[start..end)` as a tensor shaped [batch, ...inputShape], and their one-hot labels. */
function batchTensors(tf: TF, spec: ModelSpec, ds: Dataset, rows: ArrayLike<number>, start: number, end: number, augment?: (x: Float32Array, rows: number) => void): { xs: Tensor; ys: Tensor } {
  const width = rowWidth(ds);
  const classes = spec.classes.length;
  const size = end - start;
  const x = new Float32Array(size * width);
  const y = new Float32Array(size * classes);
  for (let i = 0; i < size; i++) {
    const row = rows[start + i] as number;
    x.set(ds.x.subarray(row * width, (row + 1) * width), i * width);
    y[i * classes + (ds.y[row] as number)] = 1;
  }
  augment?.(x, size);
  return { xs: tf.tensor(x, [size, ...spec.inputShape]), ys: tf.tensor2d(y, [size, classes]) };
}

/** Mean cross-entropy, accuracy and predictions of a built model over some rows. */
async function evaluateModel(tf: TF, spec: ModelSpec, model: LayersModel, ds: Dataset, rows: ArrayLike<number>, batchSize: number): Promise<Evaluation> {
  const classes = spec.classes.length;
  const predicted = new Int32Array(rows.length);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const end = Math.min(start + batchSize, rows.length);
    const { xs, ys } = batchTensors(tf, spec, ds, rows, start, end);
    let p: Float32Array;
    try {
      const probs = model.predict(xs) as Tensor;
      p = (await probs.data()) as Float32Array;
      probs.dispose();
    } finally {
      tf.dispose([xs, ys]);
    }
    for (let i = 0; i < end - start; i++) {
      const label = ds.y[rows[start + i] as number] as number;
      let best = 0;
      for (let c = 1; c < classes; c++) if ((p[i * classes + c] as number) > (p[i * classes + best] as number)) best = c;
      predicted[start + i] = best;
      if (best === label) correct++;
      lossSum -= Math.log(Math.min(1 - EPSILON, Math.max(EPSILON, p[i * classes + label] as number)));
    }
    await yieldToEventLoop();
  }
  const n = Math.max(rows.length, 1);
  return { loss: lossSum / n, accuracy: correct / n, predicted };
}

/**
 * FedProx (Li et al. 2020): one SGD step on the batch's mean cross-entropy + (mu/2)·||w − anchor||², where
 * `anchors` are the round's starting weights in `model.trainableWeights` order. Returns the batch's
 * cross-entropy and accuracy (computed as tfjs's categoricalCrossentropy and accuracy), not the proximal term.
 */
async function proximalStep(tf: TF, model: LayersModel, optimizer: Optimizer, anchors: Tensor[], mu: number, xs: Tensor, ys: Tensor): Promise<[number, number]> {
  const vars = model.trainableWeights.map((w) => w.read() as Variable);
  let ce: Scalar | undefined;
  let acc: Scalar | undefined;
  optimizer.minimize(
    () => {
      const output = model.apply(xs, { training: true }) as Tensor;
      const probs = tf.clipByValue(tf.div(output, tf.sum(output, -1, true)), EPSILON, 1 - EPSILON);
      ce = tf.keep(tf.mean(tf.neg(tf.sum(tf.mul(ys, tf.log(probs)), -1))) as Scalar);
      acc = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(ys, -1), tf.argMax(output, -1)), 'float32')) as Scalar);
      const distance = tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, anchors[i] as Tensor)))));
      return tf.add(ce, tf.mul(distance, mu / 2)) as Scalar;
    },
    false,
    vars,
  );
  try {
    return [((await (ce as Scalar).data()) as Float32Array)[0] as number, ((await (acc as Scalar).data()) as Float32Array)[0] as number];
  } finally {
    tf.dispose([ce as Scalar, acc as Scalar]);
  }
}

/**
 * Trains the given weights on the institution's rows with plain minibatch SGD and categorical
 * cross-entropy (plus FedProx's (mu/2)·||w − w_start||² when `config.proximalMu` > 0; with it absent or 0
 * the training is exactly plain SGD); holds out `valFraction` of the rows for validation metrics. Yields to the
 * event loop after every batch; disposes every tensor it makes. Throws NON_FINITE when the loss diverges.
 * @example const { weights, metrics } = await trainLocal({ tf, spec, weights: global, data, config: { localEpochs: 1, batchSize: 10, learningRate: 0.1 } });
 */
export async function trainLocal(args: TrainArgs): Promise<TrainResult> {
  const startedAt = Date.now();
  const { tf, spec, config } = args;
  const valFraction = args.valFraction ?? 0.1;
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  if (tf.getBackend() === 'wasm' && !hasWasmGradKernels(tf) && layersOf(spec).some((l) => l.kind === 'conv')) {
    throw new Error('the wasm backend cannot train conv layers without Cohort\'s Conv2D gradient kernels (load it with selectBackend); pick one with backendForSpec(spec, backend)');
  }
  const ds = prepare(spec, args.data);
  const rng = createPrng(args.seed ?? 0);
  const order = rng.shuffle(Array.from({ length: ds.n }, (_, i) => i));
  const valCount = Math.min(Math.floor(ds.n * valFraction + 1e-9), ds.n - 1);
  const valRows = order.slice(0, valCount);
  const trainRows = order.slice(valCount);
  if (trainRows.length === 0) throw new CohortError('BAD_SAMPLE_COUNT', 'no rows to train on');

  const model = buildModel(tf, spec);
  const optimizer = tf.train.sgd(config.learningRate);
  const mu = config.proximalMu ?? 0;
  let anchors: Tensor[] = [];
  try {
    setNamedWeights(model, args.weights);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    if (mu > 0) anchors = model.trainableWeights.map((w) => w.read().clone());
    let trainLoss = Number.NaN;
    let trainAccuracy = Number.NaN;
    for (let epoch = 0; epoch < config.localEpochs; epoch++) {
      rng.shuffle(trainRows);
      let lossSum = 0;
      let accSum = 0;
      for (let start = 0; start < trainRows.length; start += config.batchSize) {
        const end = Math.min(start + config.batchSize, trainRows.length);
        const seed = (((args.seed ?? 0) * 1_000_003 + epoch * 65_537 + start) >>> 0);
        const { xs, ys } = batchTensors(tf, spec, ds, trainRows, start, end, args.augmentBatch && ((x, n) => args.augmentBatch?.(x, n, seed)));
        let loss: number | undefined;
        let acc: number | undefined;
        try {
          [loss, acc] = mu > 0 ? await proximalStep(tf, model, optimizer, anchors, mu, xs, ys) : ((await model.trainOnBatch(xs, ys)) as number[]);
        } finally {
          tf.dispose([xs, ys]);
        }
        if (!Number.isFinite(loss)) {
          throw new CohortError('NON_FINITE', `training diverged: loss ${loss} in epoch ${epoch + 1}; lower the learning rate (now ${config.learningRate})`);
        }
        lossSum += (loss as number) * (end - start);
        accSum += (acc as number) * (end - start);
        await yieldToEventLoop();
      }
      trainLoss = lossSum / trainRows.length;
      trainAccuracy = accSum / trainRows.length;
      args.onEpoch?.(epoch + 1, { loss: trainLoss, accuracy: trainAccuracy });
    }
    const weights = getNamedWeights(model);
    const metrics: LocalMetrics = { trainLoss, trainAccuracy, epochs: config.localEpochs, durationMs: 0 };
    if (valRows.length > 0) {
      const val = await evaluateModel(tf, spec, model, ds, valRows, Math.max(config.batchSize, 256));
      Object.assign(metrics, { valLoss: val.loss, valAccuracy: val.accuracy, valSamples: valRows.length });
    }
    metrics.durationMs = Date.now() - startedAt;
    return { weights, metrics, trainSamples: trainRows.length };
  } finally {
    tf.dispose(anchors);
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Loss, accuracy and per-row predictions of the given weights on a dataset (normalised per the spec).
 * @example const { accuracy } = await evaluate({ tf, spec, weights, data: testSet });
 */
export async function evaluate(args: { tf: TF; spec: ModelSpec; weights: NamedTensor[]; data: Dataset; batchSize?: number }): Promise<Evaluation> {
  const { tf, spec } = args;
  const ds = prepare(spec, args.data);
  const model = buildModel(tf, spec);
  try {
    setNamedWeights(model, args.weights);
    const rows = Array.from({ length: ds.n }, (_, i) => i);
    return await evaluateModel(tf, spec, model, ds, rows, args.batchSize ?? 256);
  } finally {
    model.dispose();
  }
}
