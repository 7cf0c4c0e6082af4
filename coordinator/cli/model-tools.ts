/**
 * What the coordinator's commands need from TensorFlow.js, given to them by the `cohort` entry point
 * (simulations/cli/main.ts), so that coordinator/ never imports node-agent/train, the one home of TF.js.
 */
import type { Command } from 'commander';
import type { ModelSpec, NamedTensor, TrainLayers } from '../../protocol/index.js';
import type { ImageFlagValues } from '../../protocol/cli/options.js';

export type { ImageFlagValues };
import type { ModelRunner } from '../models/index.js';

/** The presets a `--model` flag may name besides a model.json. */
export type PresetArch = 'logreg' | 'mlp' | 'cnn';

/** A user model made a federation's: its spec, and what the coordinator keeps (model.json and every tensor). */
export interface FederationUserModel {
  spec: ModelSpec;
  keep: { modelJson: string; tensors: NamedTensor[] };
}

/** A published model (or a model.json) inspected: printable text and the same as JSON. */
export interface InspectedModel {
  text: string;
  json: unknown;
}

/** TF.js- and image-backed services for `coordinator start`, `model export|inspect` and `predict`. */
export interface ModelTools {
  /** A worker-thread TF.js runner for predictions (the coordinator's own thread never loads TF.js). */
  createModelRunner(): ModelRunner;
  /** The MNIST presets' spec (784 pixels or 28x28x1, digits 0-9). */
  mnistSpec(arch: PresetArch): ModelSpec;
  /**
   * Reads a TF.js Layers model.json (or writes the resnet preset `resnet[:DEPTH[xWIDTH]]` for MNIST's 28x28x1 digits
   * as one) and makes it the federation's model for the data `data.spec` describes, fine-tuned when `trainLayers`.
   */
  userModel(
    path: string,
    data: { spec: ModelSpec; width: number; fedbn: boolean; taskGiven: boolean; trainLayers?: TrainLayers },
  ): Promise<FederationUserModel>;
  /** Writes a whole model (spec + every tensor) as TF.js model.json and weights.bin in `dir`. */
  exportLayers(spec: ModelSpec, tensors: NamedTensor[], dir: string): Promise<{ modelJson: string; weightsBin: string; bytes: number }>;
  /** Adds the image-data flags (`--image-size`, `--channels`, `--on-bad-file`, ...) to a command. */
  withImageFlags(cmd: Command): Command;
  /**
   * The rows and labels of `images:DIR` or `dicom:MANIFEST.csv` as the API takes them (`{ pixels }`), read a batch at
   * a time; undefined for any other `data`.
   */
  imageRows(spec: ModelSpec, data: string, o: ImageFlagValues): Promise<{ rows: { pixels: number[] }[]; labels: string[] } | undefined>;
  /** Inspects a model file, version number or model.json (`readPublished` opens a signed .cohort file). */
  inspect(
    target: string,
    o: { dataDir?: string; federation?: string },
    readPublished: (file: string) => { spec: ModelSpec; tensors: NamedTensor[]; meta: Record<string, unknown> },
  ): Promise<InspectedModel>;
}
