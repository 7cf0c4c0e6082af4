/** The model the coordinator's runner serves: built from the spec and every tensor, exactly as the agents build it. */
import type { LayersModel } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import type { ModelSpec } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';
import { buildModel, setNamedWeights } from './model.js';
import { buildLayersModel, setLayersWeights } from './layers-model.js';

/**
 * A ready-to-run model for `spec` holding `tensors` (all of them, in any order). Presets are built by `buildModel`
 * (layers named as `layersOf(spec)`); a user's model ('layers') from its topology, taking its trained tensors and its
 * base (frozen and local tensors) from `tensors`. Throws naming the tensor when the tensors do not fit the model; the
 * model is disposed then.
 * @example const model = await buildServingModel(tf, spec, decoded.tensors); model.predict(x)
 */
export async function buildServingModel(tf: TF, spec: ModelSpec, tensors: readonly NamedTensor[]): Promise<LayersModel> {
  const model = spec.arch === 'layers' ? await buildLayersModel(tf, spec) : buildModel(tf, spec);
  try {
    if (spec.arch === 'layers') setLayersWeights(tf, model, spec, [...tensors]);
    else setNamedWeights(model, [...tensors]);
    return model;
  } catch (cause) {
    model.dispose();
    throw cause;
  }
}
