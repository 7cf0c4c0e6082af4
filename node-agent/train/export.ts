/** A published model as a TensorFlow.js Layers model: model.json and weights.bin, which `tf.loadLayersModel` loads. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayersModel, io } from '@tensorflow/tfjs';
import type { NamedTensor } from '../../protocol/codec.js';
import type { ModelSpec } from '../../protocol/model-spec.js';
import type { TF } from './backend.js';
import { buildServingModel } from './serving-model.js';

/** Concatenates what `model.save` hands over as weight data (one buffer, or one per weight group). */
function weightBytes(data: io.ModelArtifacts['weightData']): Uint8Array {
  const parts = data === undefined ? [] : Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Writes `dir/model.json` (format layers-model, one weights manifest entry) and `dir/weights.bin` for the weights of a
 * published model, built as the agents build it (same layer names and order), so `tf.loadLayersModel` loads it in a
 * browser or Node. Inputs are what the agents train on: for tabular specs, z-scored with `spec.normalization`.
 * @example await exportLayersModel(tf, spec, decoded.tensors, 'out/v3-tfjs')
 */
export async function exportLayersModel(
  tf: TF,
  spec: ModelSpec,
  tensors: NamedTensor[],
  dir: string,
  opts: { convertedBy?: string; metadata?: Record<string, unknown> } = {},
): Promise<{ modelJson: string; weightsBin: string; bytes: number }> {
  const model = await buildServingModel(tf, spec, tensors);
  try {
    return await saveLayersModel(tf, model, dir, {
      convertedBy: opts.convertedBy ?? 'cohort model export',
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    });
  } finally {
    model.dispose();
  }
}

/**
 * Writes a TF.js Layers model as `dir/model.json` (format layers-model, one weights manifest entry, `metadata` as
 * `userDefinedMetadata` when given) and `dir/weights.bin`: what `tf.loadLayersModel` and `--model PATH` read.
 * @example await saveLayersModel(tf, model, 'pretrained', { convertedBy: 'cohort pretrain', metadata: { cohort: { classes } } })
 */
export async function saveLayersModel(
  tf: TF,
  model: LayersModel,
  dir: string,
  opts: { convertedBy: string; metadata?: Record<string, unknown> },
): Promise<{ modelJson: string; weightsBin: string; bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const modelJson = join(dir, 'model.json');
  const weightsBin = join(dir, 'weights.bin');
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = weightBytes(artifacts.weightData);
      bytes = weights.byteLength;
      writeFileSync(weightsBin, weights);
      const manifest = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: opts.convertedBy,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        ...(opts.metadata ? { userDefinedMetadata: opts.metadata } : {}),
      };
      writeFileSync(modelJson, `${JSON.stringify(manifest)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes } };
    }),
  );
  return { modelJson, weightsBin, bytes };
}
