/** Trains K simulated institutions' copies of one preset model in one batched computation per SGD step. */
import type { Tensor } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import { CohortError } from '../../protocol/errors.js';
import type { TrainConfig } from '../../protocol/messages.js';
import { layersOf, tensorLayout, type ModelSpec } from '../../protocol/model-spec.js';
import { rowWidth, selectRows, type Dataset } from '../data/dataset.js';
import { normalize } from '../data/stats.js';
import type { TF } from './backend.js';
import { minibatchArrays, scheduleFor, type InstitutionSchedule } from './batched-schedule.js';
import { keptTransposed } from './batched-layers.js';
import { institutionsStep, type Minibatch, type StepOutputs } from './batched-step.js';
import { evaluate, type TrainResult } from './trainer.js';
import { hasWasmGradKernels } from './wasm-grad-kernels.js';

/** One simulated institution: its rows and the seed trainLocal would get (split and per-epoch shuffles). */
export interface BatchedInstitution {
  data: Dataset;
  seed: number;
}

export interface BatchedTrainArgs {
  tf: TF;
  spec: ModelSpec;
  /** The round's starting weights, the same for every institution (FedAvg's global model). */
  weights: NamedTensor[];
  institutions: BatchedInstitution[];
  config: TrainConfig;
  /** As trainLocal's: share of each institution's rows held out for validation metrics; default 0.1. */
  valFraction?: number;
}

/** What trainBatched refuses: anything but plain SGD with categorical cross-entropy on a preset. */
function refusal(args: BatchedTrainArgs): string | undefined {
  const { config, spec } = args;
  if ((config.proximalMu ?? 0) > 0)
    return 'FedProx (proximalMu > 0) is not batched; train these institutions one at a time with trainLocal';
  if (config.dpClipNorm !== undefined)
    return 'per-site clipping (dpClipNorm) is applied after training by the agent, not here; use the per-institution path';
  if (!['logreg', 'mlp', 'cnn'].includes(spec.arch))
    return `arch '${spec.arch}' is not a preset the batched trainer knows (logreg, mlp, cnn)`;
  if (args.institutions.length === 0) return 'no institutions to train';
  return undefined;
}

/** The data as trainLocal sees it: checked against the spec, z-scored when the spec says so. */
function prepared(spec: ModelSpec, data: Dataset, index: number): Dataset {
  const width = spec.inputShape.reduce((a, b) => a * b, 1);
  if (rowWidth(data) !== width)
    throw new CohortError(
      'SHAPE_MISMATCH',
      `institution ${index}: data rows have ${rowWidth(data)} values, the model's input needs ${width}`,
    );
  if (data.classes.length !== spec.classes.length || data.classes.some((c, i) => c !== spec.classes[i])) {
    throw new CohortError(
      'SHAPE_MISMATCH',
      `institution ${index}: data classes [${data.classes.join(', ')}] differ from the model's [${spec.classes.join(', ')}]`,
    );
  }
  return spec.normalization ? normalize(data, spec.normalization) : data;
}

/** Every institution's own copy of the starting weights, in tensorLayout order (the first dense kernel transposed: keptTransposed). */
function copiesOf(tf: TF, spec: ModelSpec, weights: NamedTensor[], k: number): Tensor[][] {
  const layers = layersOf(spec);
  const byName = new Map(weights.map((w) => [w.name, w]));
  const layout = tensorLayout(spec).map((t) => {
    const w = byName.get(t.name);
    if (!w || w.data.length !== t.shape.reduce((a, b) => a * b, 1))
      throw new Error(`weights do not match the model: tensor ${t.name} needs shape [${t.shape.join(', ')}]`);
    return { data: w.data, shape: t.shape };
  });
  return Array.from({ length: k }, () =>
    layout.map((t, j) =>
      keptTransposed(layers, j)
        ? tf.tidy(() => tf.transpose(tf.tensor(t.data, t.shape, 'float32')))
        : tf.tensor(t.data, t.shape, 'float32'),
    ),
  );
}

/** Every institution's weights read back, named and shaped as tensorLayout. */
async function readWeights(tf: TF, spec: ModelSpec, params: Tensor[][]): Promise<NamedTensor[][]> {
  const layout = tensorLayout(spec);
  const layers = layersOf(spec);
  const read = async (t: Tensor, j: number): Promise<Float32Array> => {
    if (!keptTransposed(layers, j)) return (await t.data()) as Float32Array;
    const back = tf.transpose(t);
    try {
      return (await back.data()) as Float32Array;
    } finally {
      back.dispose();
    }
  };
  return Promise.all(
    params.map(async (own) =>
      Promise.all(
        own.map(async (t, j) => ({
          name: (layout[j] as { name: string }).name,
          shape: [...(layout[j] as { shape: number[] }).shape],
          data: await read(t, j),
        })),
      ),
    ),
  );
}

/** Institution i's minibatch of step s as tensors, or undefined when its schedule has ended. */
function minibatches(
  tf: TF,
  spec: ModelSpec,
  datasets: Dataset[],
  schedules: InstitutionSchedule[],
  step: number,
): (Minibatch | undefined)[] {
  const classes = spec.classes.length;
  return schedules.map((s, i) => {
    const rows = s.batches[step];
    if (!rows) return undefined;
    const { x, y } = minibatchArrays(datasets[i] as Dataset, rows, classes);
    return { x: tf.tensor(x, [rows.length, ...spec.inputShape]), y: tf.tensor2d(y, [rows.length, classes]) };
  });
}

/** The [steps, K] values of the per-step [K] tensors, read back once. */
async function readStacked(tf: TF, list: Tensor[]): Promise<Float32Array> {
  const stacked = tf.stack(list);
  try {
    return (await stacked.data()) as Float32Array;
  } finally {
    stacked.dispose();
  }
}

/** Last-epoch mean loss and accuracy per institution from the per-step sums; throws NON_FINITE naming the institution. */
function lastEpochMetrics(
  schedules: InstitutionSchedule[],
  lossSums: Float32Array,
  correct: Float32Array,
  epochs: number,
  lr: number,
): { loss: number; accuracy: number }[] {
  const k = schedules.length;
  return schedules.map((s, i) => {
    let loss = 0;
    let hits = 0;
    s.batches.forEach((_, step) => {
      const l = lossSums[step * k + i] as number;
      if (!Number.isFinite(l))
        throw new CohortError(
          'NON_FINITE',
          `training diverged: institution ${i} loss ${l} in epoch ${(s.epochOf[step] as number) + 1}; lower the learning rate (now ${lr})`,
        );
      if (s.epochOf[step] !== epochs - 1) return;
      loss += l;
      hits += correct[step * k + i] as number;
    });
    return { loss: loss / s.trainRows, accuracy: hits / s.trainRows };
  });
}

/**
 * Trains every institution's copy of the model from `weights` exactly as `trainLocal` would with its seed (same split,
 * same per-epoch shuffles, same minibatches, plain SGD on categorical cross-entropy), but as one batched computation
 * per step: step s applies step s of every institution at once; an institution whose schedule has ended sits the
 * remaining steps out, so each takes exactly its own steps. Refuses FedProx and clipping (the agent's per-institution path does those).
 * @example const results = await trainBatched({ tf, spec, weights, institutions: [{ data: a, seed: 1 }, { data: b, seed: 2 }], config });
 */
export async function trainBatched(args: BatchedTrainArgs): Promise<TrainResult[]> {
  const startedAt = Date.now();
  const { tf, spec, config } = args;
  const why = refusal(args);
  if (why) throw new CohortError('BAD_REQUEST', `batched training: ${why}`);
  const layers = layersOf(spec);
  if (layers.some((l) => l.kind === 'conv') && tf.getBackend() === 'wasm' && !hasWasmGradKernels(tf)) {
    throw new Error("the wasm backend cannot train conv layers without Cohort's Conv2D gradient kernels (load it with selectBackend)");
  }
  const valFraction = args.valFraction ?? 0.1;
  const datasets = args.institutions.map((inst, i) => prepared(spec, inst.data, i));
  const schedules = args.institutions.map((inst, i) =>
    scheduleFor((datasets[i] as Dataset).n, { seed: inst.seed, valFraction, epochs: config.localEpochs, batchSize: config.batchSize }),
  );
  const steps = Math.max(...schedules.map((s) => s.batches.length));
  let params = copiesOf(tf, spec, args.weights, datasets.length);
  const lossSums: Tensor[] = [];
  const corrects: Tensor[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const batches = minibatches(tf, spec, datasets, schedules, step);
      let out: StepOutputs;
      try {
        out = institutionsStep(tf, layers, params, batches, config.learningRate);
      } finally {
        for (const b of batches) if (b) tf.dispose([b.x, b.y]);
      }
      params.forEach((own, i) => batches[i] && tf.dispose(own));
      params = out.params;
      lossSums.push(out.lossSum);
      corrects.push(out.correct);
    }
    const [lossData, correctData] = await Promise.all([readStacked(tf, lossSums), readStacked(tf, corrects)]);
    const metrics = lastEpochMetrics(schedules, lossData, correctData, config.localEpochs, config.learningRate);
    const weights = await readWeights(tf, spec, params);
    const durationMs = Date.now() - startedAt;
    return Promise.all(
      weights.map(async (w, i) => {
        const s = schedules[i] as InstitutionSchedule;
        const m = metrics[i] as { loss: number; accuracy: number };
        const result: TrainResult = {
          weights: w,
          metrics: { trainLoss: m.loss, trainAccuracy: m.accuracy, epochs: config.localEpochs, durationMs },
          trainSamples: s.trainRows,
        };
        if (s.valRows.length > 0) {
          const val = await evaluate({
            tf,
            spec: { ...spec, normalization: undefined },
            weights: w,
            data: selectRows(datasets[i] as Dataset, s.valRows),
            batchSize: Math.max(config.batchSize, 256),
          });
          Object.assign(result.metrics, { valLoss: val.loss, valAccuracy: val.accuracy, valSamples: s.valRows.length });
        }
        return result;
      }),
    );
  } finally {
    tf.dispose(params.flat());
    tf.dispose(lossSums);
    tf.dispose(corrects);
  }
}
