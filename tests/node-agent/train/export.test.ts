import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/index.js';
import { createPrng } from '../../../crypto/index.js';
import { mnistSpec } from '../../../node-agent/data/index.js';
import { createModelRunner, exportLayersModel, selectBackend } from '../../../node-agent/train/index.js';
import type { ModelSpec } from '../../../protocol/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-export-'));
const runner = createModelRunner();
afterAll(async () => {
  await runner.close();
  rmSync(dir, { recursive: true, force: true });
});

const tabular: ModelSpec = {
  arch: 'mlp',
  inputShape: [4],
  features: ['age', 'bmi', 'glucose', 'visits'],
  classes: ['no', 'yes'],
  hidden: [8],
};

describe('exportLayersModel (a published model as a TensorFlow.js Layers model)', () => {
  it.each([
    ['logreg', mnistSpec('logreg')],
    ['mlp on tabular data', tabular],
    ['cnn', mnistSpec('cnn')],
  ] as const)(
    "writes model.json and weights.bin that tf.loadLayersModel loads and that predict as the coordinator's model runner does (%s)",
    async (name, spec) => {
      const { tf } = await selectBackend('cpu');
      const tensors = initialWeights(spec, 7);
      const rng = createPrng(3);
      const width = spec.inputShape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: 2 * width }, () => rng.next());
      const out = join(dir, name.replace(/\W+/g, '-'));

      await exportLayersModel(tf, spec, tensors, out);
      const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as {
        format: string;
        modelTopology: object;
        weightsManifest: { paths: string[]; weights: [] }[];
      };
      const bin = readFileSync(join(out, json.weightsManifest[0]!.paths[0]!));
      const loaded = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0]!.weights,
          weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        }),
      );
      const input = tf.tensor(x, [2, ...spec.inputShape]);
      const predicted = (loaded.predict(input) as ReturnType<typeof tf.tensor>).dataSync();
      const expected = await runner.predict({ key: name, spec, tensors, x, rows: 2 });
      input.dispose();
      loaded.dispose();

      expect(json.format).toBe('layers-model');
      expect(bin.byteLength).toBe(tensors.reduce((n, t) => n + t.data.length * 4, 0));
      expect(predicted).toHaveLength(expected.length);
      expect(Math.max(...Array.from(predicted, (p, i) => Math.abs(p - (expected[i] as number))))).toBeLessThan(1e-5);
    },
  );
});
