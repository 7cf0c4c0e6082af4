/** `cohort model inspect` on TF.js Layers files: layers, all and trainable parameters, and the update a site sends, counted by the codec. */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialWeights } from '../../coordinator/models/index.js';
import { encodeTensors, parameterCount } from '../../protocol/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { exportLayersModel, selectBackend, type TF } from '../../node-agent/train/index.js';
import { formatInspection, inspectModel } from '../../node-agent/cli/model-inspect.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-inspect-'));
let tf: TF;
const noPublished = () => {
  throw new Error('not a published model');
};

/** A functional model: a frozen dense base, BatchNormalization, Dropout, a residual Add and a softmax head, saved as model.json + one shard. */
async function saveFunctional(folder: string): Promise<string> {
  const input = tf.input({ shape: [6], name: 'features' });
  const base = tf.layers.dense({ units: 8, activation: 'relu', name: 'base', trainable: false }).apply(input) as ReturnType<
    typeof tf.input
  >;
  const norm = tf.layers.batchNormalization({ name: 'norm' }).apply(base) as ReturnType<typeof tf.input>;
  const drop = tf.layers.dropout({ rate: 0.2, name: 'drop' }).apply(norm) as ReturnType<typeof tf.input>;
  const block = tf.layers.dense({ units: 8, activation: 'relu', name: 'block' }).apply(drop) as ReturnType<typeof tf.input>;
  const sum = tf.layers.add({ name: 'residual' }).apply([norm, block]) as ReturnType<typeof tf.input>;
  const head = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }).apply(sum) as ReturnType<typeof tf.input>;
  const model = tf.model({ inputs: input, outputs: head });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      writeFileSync(join(folder, 'group1-shard1of1.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      writeFileSync(
        join(folder, 'model.json'),
        JSON.stringify({
          format: 'layers-model',
          modelTopology: a.modelTopology,
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return join(folder, 'model.json');
}

beforeAll(async () => {
  ({ tf } = await selectBackend('cpu'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inspectModel on a TF.js Layers model.json', () => {
  it("lists a functional model's layers and counts frozen, trainable and travelling parameters by hand", async () => {
    const folder = mkdtempSync(join(dir, 'functional-'));
    const file = await saveFunctional(folder);

    const r = await inspectModel(file, noPublished);

    expect(r.layers.map((l) => [l.name, l.className, l.parameters, l.trainableParameters])).toEqual([
      ['features', 'InputLayer', 0, 0],
      ['base', 'Dense', 6 * 8 + 8, 0],
      ['norm', 'BatchNormalization', 4 * 8, 2 * 8],
      ['drop', 'Dropout', 0, 0],
      ['block', 'Dense', 8 * 8 + 8, 8 * 8 + 8],
      ['residual', 'Add', 0, 0],
      ['head', 'Dense', 8 * 3 + 3, 8 * 3 + 3],
    ]);
    expect(r.layers[6]!.outputShape).toEqual([null, 3]);
    expect(r.parameters).toBe(56 + 32 + 72 + 27);
    expect(r.trainableParameters).toBe(16 + 72 + 27);
    // Travelling: the trainable tensors and BatchNormalization's moving mean and variance (aggregated like weights).
    expect(r.perRound).toMatchObject({ tensors: 2 + 2 + 2 + 2, parameters: 115 + 16, tensorBytes: (115 + 16) * 4 });
    expect(r.perRound.updateBytes).toBeGreaterThan(r.perRound.tensorBytes);
    expect(r.perRound.envelopeBytes).toBeGreaterThan(r.perRound.updateBytes);
    expect(formatInspection(r)).toMatch(/^base\s+Dense\s+\[N, 8\]\s+56\s+no$/m);
    expect(formatInspection(r)).toMatch(/^norm\s+BatchNormalization\s+\[N, 8\]\s+32\s+16$/m);
    expect(formatInspection(r)).toContain('parameters: 187 (trainable 115, frozen 72)');
  });

  it('counts an exported preset as the spec does, and its update as the codec encodes the published tensors', async () => {
    const spec = mnistSpec('mlp');
    const tensors = initialWeights(spec, 4);
    const { modelJson } = await exportLayersModel(tf, spec, tensors, join(dir, 'mlp'));

    const r = await inspectModel(modelJson, noPublished);

    expect(r.layers.map((l) => l.className)).toEqual(['InputLayer', 'Dense', 'Dense', 'Dense']);
    expect(r.parameters).toBe(parameterCount(spec));
    expect(r.trainableParameters).toBe(parameterCount(spec));
    const frame = encodeTensors(tensors, {
      kind: 'weights',
      federation: 'federation',
      round: 1,
      institution: 'institution',
      baseVersion: 0,
      samples: 1000,
      metrics: { trainLoss: 0.5, trainAccuracy: 0.5, epochs: 1, durationMs: 1000 },
    });
    expect(r.perRound.updateBytes).toBe(frame.length);
  });

  it('refuses a model.json whose weight shard is missing, naming the shard', async () => {
    const folder = mkdtempSync(join(dir, 'missing-'));
    const file = await saveFunctional(folder);
    unlinkSync(join(folder, 'group1-shard1of1.bin'));

    await expect(inspectModel(file, noPublished)).rejects.toThrow(/weight shard group1-shard1of1\.bin .*is missing/);
  });
});
