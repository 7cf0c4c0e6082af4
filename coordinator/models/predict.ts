/** Predictions of a published model: rows by feature name (or pixels), the federation's z-score, the model run by the injected runner. */
import {
  CohortError,
  ModelSpecSchema,
  decodeTensors,
  outputUnits,
  taskOf,
  type ModelSpec,
  type NamedTensor,
} from '../../protocol/index.js';
import { loadModelFile } from './model-files.js';
import { baseTensors } from './base-model.js';
import { tabularInput } from './tabular-input.js';
import type { ModelRunner } from './model-runner.js';

/**
 * One input row: `{ featureName: number, ... }` for tabular models, `{ pixels: number[] }` for image models, and for
 * models with preprocessing `{ column: number | text | null, ... }` (raw columns; null or absent: missing).
 */
export type PredictRow = Record<string, number | number[] | string | null>;

export interface Prediction {
  classes: string[];
  /** One row per input row, in `classes` order: class probabilities; per-label probabilities (multilabel); predicted values (regression). */
  probabilities: number[][];
}

/** The largest magnitude a raw feature value may have (a float32 input overflows at 3.4e38 and is meaningless long before). */
export const MAX_FEATURE_MAGNITUDE = 1e12;
/** The farthest, in pooled standard deviations, a feature may lie from the training mean. */
export const MAX_STANDARD_DEVIATIONS = 1e6;
/** Pixel values as the data loaders scale them for training (0-255 divided by 255). */
export const PIXEL_RANGE = [0, 1] as const;

/** A decoded model version: its spec (from the frame's metadata, normalisation included) and weights. */
export interface LoadedModel {
  /** The runner's cache key (the file's path and digest); the digest when absent. */
  key?: string;
  digest: string;
  spec: ModelSpec;
  tensors: NamedTensor[];
}

/**
 * The input matrix of `rows` in the layout `spec` expects, normalised as the agents normalise
 * their data before training. Tabular specs (with `features`) take every feature by name and
 * nothing else; specs without feature names (MNIST) take `pixels`, an array of the input's size
 * with values as in training ([0, 1]). Every value must be finite; a feature at most 1e12 in magnitude and within
 * 1e6 pooled standard deviations of its training mean; a pixel within [0, 1]. Throws BAD_REQUEST naming the first
 * bad row and the feature (by name and index) or pixel. Specs with preprocessing (a data dictionary) take raw columns
 * instead: numbers, text categories, null for missing; imputed, indicated and one-hot encoded as at training.
 * @example rowsToInput(spec, [{ age: 50, bmi: 24.1 }])
 */
export function rowsToInput(spec: ModelSpec, rows: readonly PredictRow[]): Float32Array {
  if (spec.preprocessing) return zScore(spec, tabularInput(spec.preprocessing, rows));
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
        if (typeof v !== 'number' || !Number.isFinite(v))
          fail(`feature "${name}" (index ${j}) must be a finite number, got ${JSON.stringify(v)}`);
        const range = featureRange(spec, j);
        if (Math.abs(v as number) > MAX_FEATURE_MAGNITUDE || (v as number) < range[0] || (v as number) > range[1]) {
          fail(
            `feature "${name}" (index ${j}) is ${v as number}, outside what this model takes: [${range[0]}, ${range[1]}]${spec.normalization ? ` (the training mean within ${MAX_STANDARD_DEVIATIONS} standard deviations, and at most ${MAX_FEATURE_MAGNITUDE} in magnitude)` : ''}`,
          );
        }
        x[r * width + j] = v as number;
      });
    } else {
      const pixels = row.pixels;
      const extra = Object.keys(row).filter((k) => k !== 'pixels');
      if (extra.length > 0) fail(`unexpected field(s) ${extra.join(', ')}; this model takes { pixels: number[${width}] }`);
      if (!Array.isArray(pixels) || pixels.length !== width) fail(`pixels must be an array of ${width} numbers`);
      (pixels as number[]).forEach((v, j) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(`pixels[${j}] must be a finite number`);
        if (v < PIXEL_RANGE[0] || v > PIXEL_RANGE[1])
          fail(
            `pixels[${j}] is ${v}, outside [${PIXEL_RANGE[0]}, ${PIXEL_RANGE[1]}]: pixel values are scaled as in training (divide 0-255 values by 255)`,
          );
        x[r * width + j] = v;
      });
    }
  });
  return zScore(spec, x);
}

/** The rows z-scored with the spec's pooled normalisation (per feature, or per image channel), in place (unchanged without one). */
function zScore(spec: ModelSpec, x: Float32Array): Float32Array {
  const width = spec.inputShape.reduce((a, b) => a * b, 1);
  const { mean, std } = spec.channelNormalization ?? {};
  if (mean && std)
    for (let i = 0; i < x.length; i++) x[i] = ((x[i] as number) - (mean[i % mean.length] as number)) / (std[i % std.length] as number);
  const norm = spec.normalization;
  if (norm) {
    for (let i = 0; i < x.length; i++) {
      const j = i % width;
      x[i] = ((x[i] as number) - (norm.mean[j] as number)) / (norm.std[j] as number);
    }
  }
  return x;
}

/** The values feature `j` may take: within the magnitude bound, and within the z-score bound when the spec normalises. */
function featureRange(spec: ModelSpec, j: number): [number, number] {
  const norm = spec.normalization;
  if (!norm) return [-MAX_FEATURE_MAGNITUDE, MAX_FEATURE_MAGNITUDE];
  const mean = norm.mean[j] as number;
  const spread = MAX_STANDARD_DEVIATIONS * (norm.std[j] as number);
  return [Math.max(-MAX_FEATURE_MAGNITUDE, mean - spread), Math.min(MAX_FEATURE_MAGNITUDE, mean + spread)];
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
  const spec = parsed.success ? parsed.data : fallback;
  // A user's model: the published file holds its trained tensors; its base (frozen, local) is kept beside the models.
  const federation = typeof decoded.meta.federation === 'string' ? decoded.meta.federation : undefined;
  const base = spec.arch === 'layers' && federation ? baseTensors(dataDir, federation, spec) : [];
  return { key: `${path}#${digest}`, digest, spec, tensors: [...base, ...decoded.tensors] };
}

/**
 * Class probabilities of `rows` under a loaded model, computed by `runner` (TF.js in a worker). Rows are checked
 * (rowsToInput) before the runner is asked; without a runner it throws MODEL_RUNNER_UNAVAILABLE, and a NaN output
 * throws NON_FINITE naming the row.
 * @example (await predict(runner, model, [{ pixels }])).probabilities[0] // ten numbers summing to 1
 */
export async function predict(runner: ModelRunner | undefined, model: LoadedModel, rows: readonly PredictRow[]): Promise<Prediction> {
  const x = rowsToInput(model.spec, rows);
  if (!runner)
    throw new CohortError(
      'MODEL_RUNNER_UNAVAILABLE',
      'this coordinator runs no models: it was started without a model runner (the `cohort` commands start one; pass `modelRunner: createModelRunner()` to createCoordinator)',
    );
  const out = await runner.predict({ key: model.key ?? model.digest, spec: model.spec, tensors: model.tensors, x, rows: rows.length });
  const k = outputUnits(model.spec);
  if (out.length !== rows.length * k)
    throw new CohortError('CORRUPT_PAYLOAD', `the model gave ${out.length} outputs for ${rows.length} rows of ${k} outputs`);
  // A binary model outputs the positive class's probability; the row lists both, in `classes` order [negative, positive].
  const binary = taskOf(model.spec) === 'binary';
  const probabilities = Array.from({ length: rows.length }, (_, r) => {
    const p = Array.from(out.subarray(r * k, (r + 1) * k));
    if (p.some((v) => Number.isNaN(v)))
      throw new CohortError('NON_FINITE', `rows[${r}]: the model's output is not a number (its weights or this input are out of range)`);
    return binary ? [1 - (p[0] as number), p[0] as number] : p;
  });
  return { classes: [...model.spec.classes], probabilities };
}
