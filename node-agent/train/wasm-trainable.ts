/** Which layers of a spec the wasm backend can train: the gradient kernels each layer class needs beyond the dense ones. */
import { layerClasses } from '../../protocol/layers-spec.js';
import { layersOf, type ModelSpec } from '../../protocol/model-spec.js';

/** The TensorFlow.js namespace (as backend.ts's TF, restated here because backend.ts imports this file). */
type TF = typeof import('@tensorflow/tfjs');

/** Layer classes whose training needs a gradient kernel tfjs-backend-wasm 4.22 may lack, and those kernels. */
const GRAD_KERNELS: Record<string, string[]> = {
  Conv1D: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'],
  Conv2D: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'],
  Conv2DTranspose: ['Conv2DBackpropFilter', 'Conv2D'],
  SeparableConv2D: ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'Conv2DBackpropFilter'],
  DepthwiseConv2D: ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'],
  Conv3D: ['Conv3DBackpropFilterV2', 'Conv3DBackpropInputV2'],
  Embedding: ['UnsortedSegmentSum'],
  MaxPooling1D: ['MaxPoolGrad'],
  MaxPooling2D: ['MaxPoolGrad'],
  AveragePooling1D: ['AvgPoolGrad'],
  AveragePooling2D: ['AvgPoolGrad'],
};

const CONV = new Set(['Conv1D', 'Conv2D', 'Conv2DTranspose', 'SeparableConv2D', 'DepthwiseConv2D', 'Conv3D']);

/** The layer class names of a spec's model: a 'layers' spec's topology, or the preset's layers. */
function classesOf(spec: ModelSpec): string[] {
  if (spec.layers) return layerClasses(spec.layers.topology);
  return layersOf(spec).map((l) =>
    l.kind === 'conv' ? 'Conv2D' : l.kind === 'pool' ? 'MaxPooling2D' : l.kind === 'dense' ? 'Dense' : 'Flatten',
  );
}

/**
 * True when the spec's model has a convolution layer.
 * @example hasConvLayers(mnistSpec('cnn')) // true
 */
export function hasConvLayers(spec: ModelSpec): boolean {
  return classesOf(spec).some((c) => CONV.has(c));
}

/**
 * The gradient kernels the spec's layers need that the wasm backend lacks now, with the layer class needing each
 * (empty: wasm can train it).
 * @example missingWasmKernels(tf, spec) // [{ layer: 'Embedding', kernel: 'UnsortedSegmentSum' }]
 */
export function missingWasmKernels(tf: TF, spec: ModelSpec): { layer: string; kernel: string }[] {
  const out: { layer: string; kernel: string }[] = [];
  for (const layer of new Set(classesOf(spec))) {
    for (const kernel of GRAD_KERNELS[layer] ?? []) if (!tf.getKernel(kernel, 'wasm')) out.push({ layer, kernel });
  }
  return out;
}
