/** What the coordinator needs to run a model: an injected runner (TF.js in a worker, composed outside the coordinator), never a framework of its own. */
import type { ModelSpec, NamedTensor } from '../../protocol/index.js';

/** One inference: the model (by spec and every tensor it needs) and `rows` inputs laid out as `spec.inputShape`. */
export interface RunRequest {
  /** Names this model for the runner's cache (federation, version and digest): the same key always means the same model. */
  key: string;
  spec: ModelSpec;
  /** Every tensor the model needs (the published ones for presets; trained, frozen and local ones for user models). */
  tensors: readonly NamedTensor[];
  /** `rows × ∏ inputShape` values, already normalised as in training. */
  x: Float32Array;
  rows: number;
}

/**
 * Runs models for the coordinator. Implementations live outside the coordinator (node-agent/train's
 * `createModelRunner` runs TF.js in a worker thread) and are passed in `CoordinatorOptions.modelRunner`.
 * A crashed or timed-out run rejects with MODEL_RUNNER_FAILED; bad weights with CORRUPT_PAYLOAD.
 * @example const out = await runner.predict({ key: 'fed/v3#ab12', spec, tensors, x, rows: 2 }); // rows × outputs
 */
export interface ModelRunner {
  /** The model's outputs (`rows × outputs`, row-major). */
  predict(request: RunRequest): Promise<Float32Array>;
  /** Frees every cached model and ends the worker; later calls start a new one. */
  close(): Promise<void>;
}
