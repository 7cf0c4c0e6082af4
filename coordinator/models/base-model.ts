/** A user model's file tensors kept in the coordinator's data directory: the initial global model and the base every site holds. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import {
  baseHash,
  decodeTensors,
  encodeTensors,
  tensorLayout,
  type LayersSpec,
  type ModelSpec,
  type NamedTensor,
} from '../../protocol/index.js';

/** Where a federation's user model lives, relative to the data directory. */
const baseDir = (federation: string): string => join('models', federation, 'base');

/** The relative path of the kept copy of the user's model.json (with its shards beside it), for serving and export. */
export function baseModelJsonPath(dataDir: string, federation: string): string {
  return join(dataDir, baseDir(federation), 'model.json');
}

/** The frame that holds every tensor of the user's model file, named as the spec names them. */
const framePath = (dataDir: string, federation: string): string => join(dataDir, baseDir(federation), 'tensors.cohort');

/** Shard paths of a model.json, each checked to stay beside it. */
function shardPaths(modelJson: string): string[] {
  const json = JSON.parse(readFileSync(modelJson, 'utf8')) as { weightsManifest?: { paths?: string[] }[] };
  const paths = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []);
  for (const p of paths) {
    const n = normalize(p);
    if (isAbsolute(n) || n === '..' || n.startsWith(`..${sep}`)) throw new Error(`${modelJson}: shard path ${p} leaves the model's folder`);
  }
  return paths;
}

/**
 * Keeps a user model in `dataDir/models/<federation>/base/`: a copy of its model.json and shards (what serving and
 * export run) and a Cohort frame of all its tensors, named as the spec's (what version 0 and `baseTensors` read).
 * Checks first that the tensors are the spec's: every tensor present with its shape, and the frozen and local ones
 * hashing to `spec.layers.baseHash`. Does nothing when already kept (a restart).
 * @example keepBaseModel(dataDir, 'fed-a', spec, { modelJson: 'net/model.json', tensors: user.tensors });
 */
export function keepBaseModel(
  dataDir: string,
  federation: string,
  spec: ModelSpec,
  model: { modelJson: string; tensors: NamedTensor[] },
): void {
  if (!spec.layers) throw new Error(`federation ${federation}: a base model is only kept for arch 'layers'`);
  if (existsSync(framePath(dataDir, federation))) return;
  const names = new Set(model.tensors.map((t) => t.name));
  const missing = spec.layers.tensors.filter((t) => !names.has(t.name)).map((t) => t.name);
  if (missing.length) throw new Error(`the user model's tensors lack ${missing.slice(0, 5).join(', ')}: not the spec's model`);
  if (spec.layers.baseHash && baseHash(spec.layers, model.tensors) !== spec.layers.baseHash)
    throw new Error("the user model's frozen tensors are not the ones the spec pins (baseHash)");
  const target = join(dataDir, baseDir(federation));
  mkdirSync(target, { recursive: true });
  const source = dirname(resolve(model.modelJson));
  for (const p of shardPaths(model.modelJson)) {
    mkdirSync(dirname(join(target, p)), { recursive: true });
    copyFileSync(join(source, p), join(target, p));
  }
  copyFileSync(model.modelJson, join(target, 'model.json'));
  const frame = encodeTensors(
    spec.layers.tensors.map((t) => model.tensors.find((m) => m.name === t.name) as NamedTensor),
    { baseHash: spec.layers.baseHash ?? null },
  );
  const temp = `${framePath(dataDir, federation)}.${process.pid}.tmp`;
  writeFileSync(temp, frame);
  renameSync(temp, framePath(dataDir, federation)); // last, so a kept frame means a complete copy
}

/** Every tensor of a kept user-model frame at `path`, checked against the spec's base pin; `missing` says why it is needed. */
function frameTensors(path: string, spec: ModelSpec & { layers: LayersSpec }, missing: string): NamedTensor[] {
  if (!existsSync(path)) throw new Error(missing);
  const tensors = decodeTensors(new Uint8Array(readFileSync(path))).tensors;
  if (spec.layers.baseHash && baseHash(spec.layers, tensors) !== spec.layers.baseHash)
    throw new Error(`${path}: its frozen tensors are not the ones the spec pins (baseHash)`);
  return tensors;
}

/** Every tensor of the kept user model, checked against the spec's names, shapes and base pin. */
function keptTensors(dataDir: string, federation: string, spec: ModelSpec): NamedTensor[] {
  if (!spec.layers) return [];
  const path = framePath(dataDir, federation);
  const missing = `federation ${federation} trains a user model but ${path} is missing: start the coordinator with --model PATH to its model.json`;
  return frameTensors(path, { ...spec, layers: spec.layers }, missing);
}

/** The tensors a user model's published versions lack (its frozen and local ones), of all the model's tensors. */
function untrained(spec: ModelSpec, tensors: NamedTensor[]): NamedTensor[] {
  const trained = new Set(tensorLayout(spec).map((t) => t.name));
  return tensors.filter((t) => !trained.has(t.name));
}

/**
 * The base tensors of a user model from a kept frame file (`models/<federation>/base/tensors.cohort`, possibly
 * copied elsewhere), checked against the spec's base pin; empty for a preset. `missing` is the message when absent.
 * @example baseTensorsFromFrame('run/models/simulation/base/tensors.cohort', spec, 'give --base')
 */
export function baseTensorsFromFrame(path: string, spec: ModelSpec, missing: string): NamedTensor[] {
  return spec.layers ? untrained(spec, frameTensors(path, { ...spec, layers: spec.layers }, missing)) : [];
}

/**
 * The base tensors of a federation's user model (its frozen and FedBN-local initial tensors, named as the spec), for
 * running the whole model (serving, evaluation); empty for a preset.
 * @example const base = baseTensors(dataDir, 'fed-a', spec); // with a published version's tensors: the full model
 */
export function baseTensors(dataDir: string, federation: string, spec: ModelSpec): NamedTensor[] {
  return untrained(spec, keptTensors(dataDir, federation, spec));
}

/**
 * The initial global model of a user model: its file's 'trained' tensors, in `tensorLayout(spec)` order.
 * @example const v0 = userInitialWeights(dataDir, 'fed-a', spec);
 */
export function userInitialWeights(dataDir: string, federation: string, spec: ModelSpec): NamedTensor[] {
  const byName = new Map(keptTensors(dataDir, federation, spec).map((t) => [t.name, t]));
  return tensorLayout(spec).map((t) => byName.get(t.name) as NamedTensor);
}
