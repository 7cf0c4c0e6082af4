/** `--model PATH`: a user's TF.js Layers model.json made into a federation's spec, its version 0 and its base (the CLI composes node-agent/train for the coordinator). */
import { inferTask, outputUnits, taskOf, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import type { TF, UserModel } from '../train/index.js';

/** A user model as a federation's: its spec and what the coordinator keeps (model.json and every tensor). */
export interface UserFederationModel {
  spec: ModelSpec;
  user: UserModel;
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
  data: { spec: ModelSpec; width: number; fedbn?: boolean; taskGiven?: boolean },
): Promise<UserFederationModel> {
  const { readUserModel } = await import('../train/index.js');
  const user = await readUserModel(tf, path, { fedbn: data.fedbn ?? false });
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
      `${user.path}: the model's output layer ${user.output.outputLayer} has ${user.output.units} units, a ${task} task over ${data.spec.classes.slice(0, 10).join(', ')} needs ${units}`,
    );
  }
  return { spec, user, keep: { modelJson: user.path, tensors: [...user.initial, ...user.base] } };
}
