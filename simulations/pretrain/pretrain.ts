/** `cohort pretrain`: one model trained centrally on one data set, saved as a TF.js Layers model.json to fine-tune later. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { poolTabularSpec, type ModelSpec, type NamedTensor, type Task, type TrainConfig } from '../../protocol/index.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { cnnInputShape, featureStats, rowWidth, selectRows } from '../../node-agent/data/index.js';
import { evaluate, exportLayersModel, selectBackend, trainLocal, type BackendPreference } from '../../node-agent/train/index.js';
import { formatDataRef } from '../../node-agent/data-source.js';
import { isPreset, parseResNet } from '../../protocol/cli/options.js';
import { userModelSpec, writeResNetModel } from '../../node-agent/cli/user-model.js';
import { prepareData, type Arch, type DatasetChoice } from '../simulate/dataset.js';
import type { PretrainMetadata } from '../../node-agent/cli/pretrain-metadata.js';

export interface PretrainOptions {
  dataset: DatasetChoice;
  /** A preset, resnet[:DEPTH[xWIDTH]], or a model.json to train further. */
  model: string;
  classes?: string[];
  task?: Task;
  epochs: number;
  batchSize: number;
  learningRate: number;
  training?: Pick<TrainConfig, 'optimizer' | 'momentum' | 'weightDecay' | 'classWeight'>;
  seed: number;
  backend: BackendPreference;
  /** The folder model.json and weights.bin go to. */
  out: string;
  out_stream?: NodeJS.WritableStream;
}

export interface PretrainResult {
  modelJson: string;
  testAccuracy: number;
  testLoss: number;
  trainRows: number;
  testRows: number;
  wallMs: number;
}

/** Share of each class held out as the test set (the rows `--base-task-data` scores later, found again by the seed). */
const TEST_FRACTION = 0.2;

/**
 * Trains the model on the data set's training rows (a seeded 20% of each class held out, or the published test
 * split), printing each epoch's loss and accuracy, scores it on the held-out rows and writes `out/model.json` and
 * `out/weights.bin`; model.json's `userDefinedMetadata.cohort` records the data set, classes, seed and test fraction.
 * @example await pretrain({ dataset: { kind: 'mnist' }, classes: ['0', '1'], model: 'resnet:10x8', epochs: 2, batchSize: 32, learningRate: 0.001, seed: 0, backend: 'auto', out: 'pre' })
 */
export async function pretrain(opts: PretrainOptions): Promise<PretrainResult> {
  const startedAt = Date.now();
  const say = (text: string): void => void (opts.out_stream ?? process.stdout).write(`${text}\n`);
  const resnet = parseResNet(opts.model);
  const preset = isPreset(opts.model);
  const data = prepareData(opts.dataset, preset ? (opts.model as Arch) : 'mlp', 1, { kind: 'iid' }, opts.seed, TEST_FRACTION, {
    ...(opts.classes ? { classes: opts.classes } : {}),
    ...(opts.task ? { labels: { task: opts.task } } : {}),
  });
  if (resnet && !data.imageShape) throw new Error(`--model ${opts.model} needs image data (mnist, mnist-full, idx, images, dicom)`);
  const { tf, name: backend } = await selectBackend(opts.backend, () => undefined);
  let spec: ModelSpec = data.spec;
  let weights: NamedTensor[];
  let base: NamedTensor[] | undefined;
  const scratch = resnet ? mkdtempSync(join(tmpdir(), 'cohort-pretrain-')) : undefined;
  try {
    const file =
      resnet && scratch
        ? await writeResNetModel(
            tf,
            opts.model,
            { inputShape: cnnInputShape(data.imageShape as number[]), spec: data.spec, seed: opts.seed },
            scratch,
          )
        : preset
          ? undefined
          : opts.model;
    if (file) {
      const user = await userModelSpec(tf, file, { spec: data.spec, width: rowWidth(data.all), taskGiven: opts.task !== undefined });
      ({ spec } = user);
      weights = user.user.initial;
      base = user.user.base;
    } else weights = initialWeights(spec, opts.seed);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  const trainSet = selectRows(data.all, data.train);
  const testSet = selectRows(data.all, data.test);
  if (spec.features && !spec.normalization) spec = poolTabularSpec(spec, [featureStats(trainSet)]);
  say(
    `Pretraining ${opts.model} on ${formatDataRef(opts.dataset)}${opts.classes ? ` (classes ${opts.classes.join(', ')})` : ''}: ${trainSet.n} training rows, ${testSet.n} held out; ${opts.epochs} epochs, batch ${opts.batchSize}, lr ${opts.learningRate}${opts.training?.optimizer ? `, ${opts.training.optimizer}` : ''}, backend ${backend}.`,
  );
  let epochStart = Date.now();
  const trained = await trainLocal({
    tf,
    spec,
    weights,
    ...(base ? { base } : {}),
    data: trainSet,
    config: { localEpochs: opts.epochs, batchSize: opts.batchSize, learningRate: opts.learningRate, ...opts.training },
    valFraction: 0,
    seed: opts.seed,
    onEpoch: (epoch, logs) => {
      say(
        `epoch ${epoch}/${opts.epochs}: training loss ${logs.loss.toFixed(4)}, accuracy ${logs.accuracy.toFixed(4)} (${((Date.now() - epochStart) / 1000).toFixed(1)} s)`,
      );
      epochStart = Date.now();
    },
  });
  const ev = await evaluate({ tf, spec, weights: trained.weights, data: testSet, ...(base ? { base } : {}) });
  say(`Held-out test set (${testSet.n} rows): accuracy ${ev.accuracy.toFixed(4)}, loss ${ev.loss.toFixed(4)}.`);
  const metadata: PretrainMetadata = {
    dataset: formatDataRef(opts.dataset),
    classes: [...spec.classes],
    seed: opts.seed,
    testFraction: TEST_FRACTION,
    epochs: opts.epochs,
    testAccuracy: ev.accuracy,
  };
  const out = resolve(opts.out);
  const { modelJson, bytes } = await exportLayersModel(tf, spec, [...trained.weights, ...(base ?? [])], out, {
    convertedBy: 'cohort pretrain',
    metadata: { cohort: metadata },
  });
  say(
    `Saved ${modelJson} (weights.bin ${(bytes / 2 ** 20).toFixed(2)} MB); fine-tune it with cohort simulate --model ${modelJson} --train-layers head|last-block|all.`,
  );
  return {
    modelJson,
    testAccuracy: ev.accuracy,
    testLoss: ev.loss,
    trainRows: trainSet.n,
    testRows: testSet.n,
    wallMs: Date.now() - startedAt,
  };
}
