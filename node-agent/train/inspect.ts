/** What a TF.js model is made of: its layers and parameter counts. */
import type { LayersModel } from '@tensorflow/tfjs';

export interface LayerSummary {
  name: string;
  /** The TF.js class (Dense, Conv2D, BatchNormalization...). */
  className: string;
  /** The output shape, `null` for the batch dimension (one shape per output for layers with several). */
  outputShape: (number | null)[] | (number | null)[][];
  parameters: number;
  trainableParameters: number;
  trainable: boolean;
}

export interface ModelSummary {
  layers: LayerSummary[];
  parameters: number;
  trainableParameters: number;
}

const size = (shape: readonly (number | null)[]): number => shape.reduce<number>((a, b) => a * (b ?? 1), 1);

/**
 * Layers in order with their class, output shape and parameters (all, and trainable), and the totals.
 * @example const { parameters, trainableParameters } = summarizeModel(buildModel(tf, spec))
 */
export function summarizeModel(model: LayersModel): ModelSummary {
  const layers = model.layers.map((layer) => ({
    name: layer.name,
    className: layer.getClassName(),
    outputShape: layer.outputShape as LayerSummary['outputShape'],
    parameters: layer.weights.reduce((n, w) => n + size(w.shape), 0),
    trainableParameters: layer.trainableWeights.reduce((n, w) => n + size(w.shape), 0),
    trainable: layer.trainable,
  }));
  return {
    layers,
    parameters: layers.reduce((n, l) => n + l.parameters, 0),
    trainableParameters: layers.reduce((n, l) => n + l.trainableParameters, 0),
  };
}
