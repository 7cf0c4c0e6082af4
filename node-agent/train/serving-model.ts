/** The model the coordinator's runner serves: built from the spec and every tensor, exactly as the agents build it. */
import type { LayersModel } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import type { ModelSpec } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';
import { buildModel, setNamedWeights } from './model.js';

/**
 * A ready-to-run model for `spec` holding `tensors` (all of them, in any order). Presets are built by `buildModel`
 * (layers named as `layersOf(spec)`); this is the one call to point at another builder (a user model's topology).
 * Throws naming the tensor when the tensors do not fit the model; the model is disposed then.
 * @example const model = buildServingModel(tf, spec, decoded.tensors); model.predict(x)
 */
export function buildServingModel(tf: TF, spec: ModelSpec, tensors: readonly NamedTensor[]): LayersModel {
  const model = buildModel(tf, spec);
  try {
    setNamedWeights(model, [...tensors]);
    return model;
  } catch (cause) {
    model.dispose();
    throw cause;
  }
}
