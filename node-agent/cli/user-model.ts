/** `--model PATH`: a user's TF.js Layers model.json made into a federation's spec, its version 0 and its base (the CLI composes node-agent/train for the coordinator). */
import { join } from 'node:path';
import {
  headActivation,
  inferTask,
  outputUnits,
  taskOf,
  type ModelSpec,
  type NamedTensor,
  type TrainLayers,
} from '../../protocol/index.js';
import type { FineTunedModel, TF, UserModel } from '../train/index.js';
import { parseResNet } from '../../protocol/cli/options.js';
import { readPretrainMetadata } from './pretrain-metadata.js';

/**
 * Writes the `resnet` preset for a data set as a TF.js Layers model file (`dir/model.json`, seeded He-normal
 * weights), so it federates like a user's model file; returns the model.json path.
 * @example const path = await writeResNetModel(tf, 'resnet:10x8', { inputShape: [28, 28, 1], spec: data.spec, seed: 0 }, 'run/model');
 */
export async function writeResNetModel(
  tf: TF,
  choice: string,
  data: { inputShape: number[]; spec: ModelSpec; seed: number },
  dir: string,
): Promise<string> {
  const arch = parseResNet(choice);
  if (!arch) throw new Error(`${choice} is not a resnet preset`);
  const { buildResNet, saveLayersModel } = await import('../../node-agent/train/index.js');
  const model = buildResNet(tf, {
    ...arch,
    inputShape: data.inputShape,
    units: outputUnits(data.spec),
    activation: headActivation(taskOf(data.spec)),
    seed: data.seed,
  });
  try {
    await saveLayersModel(tf, model, dir, { convertedBy: `cohort ${choice}` });
  } finally {
    model.dispose();
  }
  return join(dir, 'model.json');
}

/** True when the file is a `cohort pretrain` model whose classes are not the study's: its head must be new, even with as many units. */
function headIsForOtherClasses(path: string, classes: readonly string[]): boolean {
  const meta = readPretrainMetadata(path);
  return meta !== null && meta.classes.join('\u0000') !== classes.join('\u0000');
}

/** A user model as a federation's: its spec and what the coordinator keeps (model.json and every tensor). */
export interface UserFederationModel {
  spec: ModelSpec;
  user: UserModel & Partial<Pick<FineTunedModel, 'headReplaced' | 'trainedLayers'>>;
  /** For createCoordinator's `userModel`. */
  keep: { modelJson: string; tensors: NamedTensor[] };
}

/**
 * Reads a model.json (refusing a malformed one, naming the problem) and makes the federation's spec of it from the
 * spec the data implies (`data`: its task, output names, features and preprocessing, as a preset would have it),
 * checking that the model's input takes the data's `width` values per row and that its output has the units the
 * task needs. Without `taskGiven`, a model whose output says otherwise decides the task (a 2-unit softmax over a
 * two-valued label is a classification, see inferTask).
 * @example const { spec, keep } = await userModelSpec(tf, 'net/model.json', { spec: dataSpec, width: 784, fedbn: false });
 */
export async function userModelSpec(
  tf: TF,
  path: string,
  data: { spec: ModelSpec; width: number; fedbn?: boolean; taskGiven?: boolean; trainLayers?: TrainLayers; seed?: number },
): Promise<UserFederationModel> {
  const { readUserModel, fineTuneUserModel } = await import('../../node-agent/train/index.js');
  const fedbn = data.fedbn ?? false;
  const user = data.trainLayers
    ? await fineTuneUserModel(tf, path, {
        units: outputUnits(data.spec),
        activation: headActivation(taskOf(data.spec)),
        trainLayers: data.trainLayers,
        fedbn,
        seed: data.seed ?? 0,
        replaceHead: headIsForOtherClasses(path, data.spec.classes),
      })
    : await readUserModel(tf, path, { fedbn });
  const { arch: _arch, hidden: _hidden, inputShape: _shape, ...described } = data.spec;
  const inputWidth = user.inputShape.reduce((a, b) => a * b, 1);
  const features = data.spec.features;
  if (inputWidth !== data.width) {
    throw new Error(
      `${user.path}: the model's input [${user.inputShape.join(', ')}] takes ${inputWidth} values per row, the data has ${data.width}${features ? ` (features ${features.slice(0, 5).join(', ')}${features.length > 5 ? ', ...' : ''})` : ''}`,
    );
  }
  let task = taskOf(data.spec);
  if (user.output && !data.taskGiven && task !== 'multilabel' && task !== 'regression') {
    const fromModel = inferTask(null, user.output);
    // A two-class label read as binary, under a model with one unit per class: the model's softmax decides.
    if (fromModel === 'classification' && task === 'binary' && user.output.units === 2) task = 'classification';
    else if (fromModel === 'binary' && task === 'classification' && data.spec.classes.length === 2) task = 'binary';
  }
  const spec: ModelSpec = {
    ...described,
    arch: 'layers',
    inputShape: user.inputShape,
    layers: user.layers,
    ...(task !== 'classification' ? { task } : {}),
  };
  if (task === 'classification') delete spec.task;
  const units = outputUnits(spec);
  if (user.output && user.output.units !== units) {
    throw new Error(
      `${user.path}: the model's output layer ${user.output.outputLayer} has ${user.output.units} units, a ${task} task over ${data.spec.classes.slice(0, 10).join(', ')} needs ${units} (--train-layers replaces the head to fine-tune it)`,
    );
  }
  return { spec, user, keep: { modelJson: user.path, tensors: [...user.initial, ...user.base] } };
}
