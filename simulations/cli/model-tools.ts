/** The TF.js services the coordinator's commands are given (coordinator/cli/model-tools.ts), built from node-agent/train. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelTools } from '../../coordinator/cli/model-tools.js';
import { parseResNet } from '../../protocol/cli/options.js';
import { mnistSpec } from '../../node-agent/data/mnist.js';
import { createModelRunner } from '../../node-agent/train/model-runner.js';
import { imageOptionsFrom, withImageFlags } from '../../node-agent/cli/image-flags.js';
import type { ImageFlagValues } from '../../coordinator/cli/model-tools.js';
import type { ModelSpec } from '../../protocol/index.js';

/**
 * ModelTools over node-agent/train, each loading TF.js only when called (so `--help` stays fast).
 * @example coordinatorCommand(modelTools())
 */
export function modelTools(): ModelTools {
  return {
    createModelRunner: () => createModelRunner(),
    mnistSpec,
    withImageFlags,
    imageRows,
    async userModel(model, data) {
      const { selectBackend } = await import('../../node-agent/train/index.js');
      const { userModelSpec, writeResNetModel } = await import('../../node-agent/cli/user-model.js');
      const { tf } = await selectBackend('auto');
      // The resnet preset is written as a model file; the coordinator keeps its copy in its data directory.
      const path = parseResNet(model)
        ? await writeResNetModel(
            tf,
            model,
            { inputShape: [28, 28, 1], spec: data.spec, seed: 0 },
            mkdtempSync(join(tmpdir(), 'cohort-resnet-')),
          )
        : model;
      const { spec, keep } = await userModelSpec(tf, path, data);
      return { spec, keep };
    },
    async exportLayers(spec, tensors, dir) {
      const { exportLayersModel, selectBackend } = await import('../../node-agent/train/index.js');
      const { tf } = await selectBackend('cpu', () => undefined);
      return exportLayersModel(tf, spec, tensors, dir);
    },
    async inspect(target, o, readPublished) {
      const { formatInspection, inspectModel, modelTarget } = await import('../../node-agent/cli/model-inspect.js');
      const report = await inspectModel(modelTarget(target, o), readPublished);
      return { text: formatInspection(report), json: report };
    },
  };
}

/**
 * The rows and labels of `images:DIR` or `dicom:MANIFEST.csv` as the API takes them (`{ pixels }`, values in [0, 1]),
 * read a batch at a time (a set over `--max-memory-mb` streams); undefined for any other `--data`.
 * @example await imageRows(spec, 'images:val', { size: [64, 64] }) // { rows: [{ pixels }], labels: ['benign', ...] }
 */
async function imageRows(
  spec: ModelSpec,
  data: string,
  o: ImageFlagValues,
): Promise<{ rows: { pixels: number[] }[]; labels: string[] } | undefined> {
  if (!/^(images|dicom):/.test(data)) return undefined;
  const { parseImageRef } = await import('../../node-agent/data-source.js');
  const { imageSource } = await import('../../node-agent/image-source.js');
  const { batchFeed } = await import('../../node-agent/data/row-stream.js');
  const ref = parseImageRef(data, { ...imageOptionsFrom(o), augment: false }) as NonNullable<ReturnType<typeof parseImageRef>>;
  const ds = imageSource(ref).rows({ ...spec, channelNormalization: undefined });
  const width = ds.inputShape.reduce((a, b) => a * b, 1);
  const all = Array.from({ length: ds.n }, (_, i) => i);
  const rows: { pixels: number[] }[] = [];
  const labels: string[] = [];
  for await (const batch of batchFeed(
    ds,
    Array.from({ length: Math.ceil(ds.n / 64) }, (_, b) => all.slice(b * 64, (b + 1) * 64)),
  )) {
    batch.rows.forEach((r, i) => {
      rows.push({ pixels: Array.from(batch.x.subarray(i * width, (i + 1) * width)) });
      labels.push(ds.classes[ds.y[r] as number] as string);
    });
  }
  return { rows, labels };
}
