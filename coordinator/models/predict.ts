/** Predictions of a published model: rows by feature name (or pixels), the federation's z-score, the forward pass. */
import { CohortError, ModelSpecSchema, decodeTensors, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import { forward } from './forward.js';
import { loadModelFile } from './model-files.js';

/** One input row: `{ featureName: number, ... }` for tabular models, `{ pixels: number[] }` for image models. */
export type PredictRow = Record<string, number | number[]>;

export interface Prediction {
  classes: string[];
  /** One row of class probabilities (in `classes` order) per input row. */
  probabilities: number[][];
}

/** A decoded model version: its spec (from the frame's metadata, normalisation included) and weights. */
export interface LoadedModel {
  digest: string;
  spec: ModelSpec;
  tensors: NamedTensor[];
}

/**
 * The input matrix of `rows` in the layout `spec` expects, normalised as the agents normalise
 * their data before training. Tabular specs (with `features`) take every feature by name and
 * nothing else; specs without feature names (MNIST) take `pixels`, an array of the input's size
 * with values as in training (MNIST: [0, 1]). Throws BAD_REQUEST naming the first bad row.
 * @example rowsToInput(spec, [{ age: 50, bmi: 24.1 }])
 */
export function rowsToInput(spec: ModelSpec, rows: readonly PredictRow[]): Float32Array {
  const width = spec.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * width);
  const names = spec.features;
  rows.forEach((row, r) => {
    const fail = (msg: string): never => {
      throw new CohortError('BAD_REQUEST', `rows[${r}]: ${msg}`);
    };
    if (names) {
      const unknown = Object.keys(row).filter((k) => !names.includes(k));
      if (unknown.length > 0) fail(`unknown feature(s) ${unknown.join(', ')}; the model's features are ${names.join(', ')}`);
      names.forEach((name, j) => {
        const v = row[name];
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(`feature "${name}" must be a finite number, got ${JSON.stringify(v)}`);
        x[r * width + j] = v as number;
      });
    } else {
      const pixels = row.pixels;
      const extra = Object.keys(row).filter((k) => k !== 'pixels');
      if (extra.length > 0) fail(`unexpected field(s) ${extra.join(', ')}; this model takes { pixels: number[${width}] }`);
      if (!Array.isArray(pixels) || pixels.length !== width) fail(`pixels must be an array of ${width} numbers`);
      (pixels as number[]).forEach((v, j) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(`pixels[${j}] must be a finite number`);
        x[r * width + j] = v;
      });
    }
  });
  const norm = spec.normalization;
  if (norm) {
    for (let i = 0; i < x.length; i++) {
      const j = i % width;
      x[i] = ((x[i] as number) - (norm.mean[j] as number)) / (norm.std[j] as number);
    }
  }
  return x;
}

/**
 * Reads a model file, checking its digest, and decodes it; the spec comes from the frame's
 * metadata (where the pooled normalisation travels), else `fallback`.
 * @example const model = loadModel(dataDir, record.path, record.digest, federation.spec)
 */
export function loadModel(dataDir: string, path: string, digest: string, fallback: ModelSpec): LoadedModel {
  const bytes = loadModelFile(dataDir, path, digest);
  const decoded = decodeTensors(bytes);
  const parsed = ModelSpecSchema.safeParse(decoded.meta.spec);
  return { digest, spec: parsed.success ? parsed.data : fallback, tensors: decoded.tensors };
}

/**
 * Class probabilities of `rows` under a loaded model.
 * @example predict(model, [{ pixels }]).probabilities[0] // ten numbers summing to 1
 */
export function predict(model: LoadedModel, rows: readonly PredictRow[]): Prediction {
  const x = rowsToInput(model.spec, rows);
  const out = forward(model.spec, model.tensors, x, rows.length);
  const k = model.spec.classes.length;
  const probabilities = Array.from({ length: rows.length }, (_, r) => Array.from(out.subarray(r * k, (r + 1) * k)));
  return { classes: [...model.spec.classes], probabilities };
}
