/** The simulated federation's model when it is not a built-in preset: a resnet written to a file, or a model file (fine-tuned or not). */
import { join } from 'node:path';
import type { TrainLayers } from '../../protocol/index.js';
import { cnnInputShape, rowWidth } from '../../node-agent/data/index.js';
import type { TF } from '../../node-agent/train/index.js';
import { formatDataRef } from '../../node-agent/data-source.js';
import { isPreset, parseResNet } from '../../protocol/cli/options.js';
import { userModelSpec, writeResNetModel, type UserFederationModel } from '../../node-agent/cli/user-model.js';
import { baseTaskProbe, type BaseTaskProbe } from './forgetting.js';
import type { DatasetChoice, SimulationData } from './dataset.js';
import { describeUserModel } from './user-model-summary.js';

interface ModelFlags {
  model: string;
  fedbn?: boolean;
  trainLayers?: TrainLayers;
  baseTaskData?: DatasetChoice;
  task?: unknown;
  seed: number;
}

/**
 * What `--model` names, checked against the flags that need a model file: a resnet preset, a model file, or neither
 * (logreg, mlp, cnn).
 * @example modelKind({ model: 'resnet:10x8', seed: 0 }) // { resnet: { depth: 10, width: 8 }, file: undefined }
 */
export function modelKind(flags: ModelFlags): { resnet: ReturnType<typeof parseResNet>; file: string | undefined } {
  const resnet = parseResNet(flags.model);
  const file = isPreset(flags.model) || resnet ? undefined : flags.model;
  if (flags.fedbn && !file && !resnet)
    throw new Error('--fedbn applies to a user model (--model PATH) or resnet: the other presets have no BatchNormalization');
  if ((flags.trainLayers || flags.baseTaskData) && !file)
    throw new Error('--train-layers and --base-task-data fine-tune a pretrained model file: give --model PATH/model.json');
  return { resnet, file };
}

/**
 * The federation's Layers model: the resnet preset written to `dir/model/model.json` (what the agents read), or the
 * model file, fine-tuned when `--train-layers` says so; with `--base-task-data`, the base task scored before
 * training. `lines` say what was chosen, for the run's output. Undefined for logreg, mlp and cnn.
 * @example const m = await federationModel(tf, opts, data, dir); m?.user.spec.arch // 'layers'
 */
export async function federationModel(
  tf: TF,
  flags: ModelFlags,
  data: SimulationData,
  dir: string,
): Promise<{ user: UserFederationModel; probe?: BaseTaskProbe; lines: string[] } | undefined> {
  const { resnet, file } = modelKind(flags);
  if (resnet && !data.imageShape) throw new Error(`--model ${flags.model} needs image data (mnist, mnist-full, idx, images, dicom)`);
  const path = resnet
    ? await writeResNetModel(
        tf,
        flags.model,
        { inputShape: cnnInputShape(data.imageShape as number[]), spec: data.spec, seed: flags.seed },
        join(dir, 'model'),
      )
    : file;
  if (!path) return undefined;
  const user = await userModelSpec(tf, path, {
    spec: data.spec,
    width: rowWidth(data.all),
    fedbn: flags.fedbn ?? false,
    taskGiven: flags.task !== undefined,
    ...(flags.trainLayers ? { trainLayers: flags.trainLayers } : {}),
    seed: flags.seed,
  });
  const probe = flags.baseTaskData ? await baseTaskProbe(tf, path, flags.baseTaskData) : undefined;
  const lines = [
    `${resnet ? `ResNet-${resnet.depth} (width ${resnet.width}), written to` : 'User model'} ${user.user.path}: ${describeUserModel(user.spec)}`,
  ];
  const { headReplaced, trainedLayers } = user.user;
  if (trainedLayers)
    lines.push(
      `Fine-tuning (--train-layers ${flags.trainLayers}): ${headReplaced ? `output layer ${headReplaced.layer} replaced (${headReplaced.from} -> ${headReplaced.to} units, new seeded weights); ` : ''}${trainedLayers.length} layers train and travel, the rest are frozen at every site (pinned by the base hash).`,
    );
  if (probe && flags.baseTaskData)
    lines.push(
      `Base task before fine-tuning: accuracy ${probe.before.accuracy.toFixed(4)} on ${probe.rows} held-out rows of ${formatDataRef(flags.baseTaskData)}.`,
    );
  return { user, ...(probe ? { probe } : {}), lines };
}
