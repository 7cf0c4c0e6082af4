/** `--model PATH`: a user's TF.js Layers model.json made into a federation's spec, its version 0 and its base (the CLI composes node-agent/train for the coordinator). */
import { existsSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { ModelSpec, NamedTensor } from '../../protocol/index.js';
import type { TF, UserModel } from '../../node-agent/train/index.js';
import { ARCHS } from './options.js';

export type Preset = (typeof ARCHS)[number];

/**
 * `--model`: a preset name, or a path to a model.json (it must exist).
 * @example modelChoice('cnn') // 'cnn'; modelChoice('net/model.json') // 'net/model.json'
 */
export function modelChoice(text: string): string {
  if ((ARCHS as readonly string[]).includes(text)) return text;
  if (!text.endsWith('.json')) throw new InvalidArgumentError(`expected ${ARCHS.join(', ')} or a path to a TF.js Layers model.json, got "${text}"`);
  if (!existsSync(text)) throw new InvalidArgumentError(`no model file ${text}`);
  return text;
}

/**
 * True when `--model` names a preset rather than a model file.
 * @example isPreset('mlp') // true
 */
export function isPreset(model: string): model is Preset {
  return (ARCHS as readonly string[]).includes(model);
}

/** A user model as a federation's: its spec and what the coordinator keeps (model.json and every tensor). */
export interface UserFederationModel {
  spec: ModelSpec;
  user: UserModel;
  /** For createCoordinator's `userModel`. */
  keep: { modelJson: string; tensors: NamedTensor[] };
}

/**
 * Reads a model.json (refusing a malformed one, naming the problem) and makes the federation's spec of it for data
 * of `width` values per row and these classes (and feature names), checking that the model's input takes `width`
 * values and its output has one unit per class.
 * @example const { spec, keep } = await userModelSpec(tf, 'net/model.json', { classes, width: 784, fedbn: false });
 */
export async function userModelSpec(tf: TF, path: string, data: { classes: string[]; width: number; features?: string[]; fedbn?: boolean }): Promise<UserFederationModel> {
  const { readUserModel } = await import('../../node-agent/train/index.js');
  const user = await readUserModel(tf, path, { fedbn: data.fedbn ?? false });
  const inputWidth = user.inputShape.reduce((a, b) => a * b, 1);
  if (inputWidth !== data.width) {
    throw new Error(`${user.path}: the model's input [${user.inputShape.join(', ')}] takes ${inputWidth} values per row, the data has ${data.width}${data.features ? ` (features ${data.features.slice(0, 5).join(', ')}${data.features.length > 5 ? ', ...' : ''})` : ''}`);
  }
  if (user.output && user.output.units !== data.classes.length) {
    throw new Error(`${user.path}: the model's output layer ${user.output.outputLayer} has ${user.output.units} units, the data has ${data.classes.length} classes (${data.classes.slice(0, 10).join(', ')})`);
  }
  const spec: ModelSpec = {
    arch: 'layers',
    inputShape: user.inputShape,
    classes: [...data.classes],
    ...(data.features ? { features: [...data.features] } : {}),
    layers: user.layers,
  };
  return { spec, user, keep: { modelJson: user.path, tensors: [...user.initial, ...user.base] } };
}
