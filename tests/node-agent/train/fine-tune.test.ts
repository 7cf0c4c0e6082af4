/** Fine-tuning a pretrained model file: the head replaced for the study's classes, and --train-layers deciding exactly which tensors train and travel. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseHash } from '../../../protocol/index.js';
import { buildResNet, fineTuneUserModel, readUserModel, saveLayersModel, selectBackend, type TF } from '../../../node-agent/train/index.js';

let tf: TF;
let root: string;
let modelJson: string;

beforeAll(async () => {
  ({ tf } = await selectBackend('cpu'));
  root = mkdtempSync(join(tmpdir(), 'cohort-fine-tune-'));
  const model = buildResNet(tf, { depth: 10, width: 2, inputShape: [8, 8, 1], units: 3, activation: 'softmax', seed: 4 });
  ({ modelJson } = await saveLayersModel(tf, model, join(root, 'pre'), { convertedBy: 'test' }));
  model.dispose();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fineTuneUserModel', () => {
  it('replaces a 3-unit head by a seeded 5-unit one and keeps every other tensor of the file', async () => {
    const file = await readUserModel(tf, modelJson);

    const tuned = await fineTuneUserModel(tf, modelJson, { units: 5, activation: 'softmax', trainLayers: 'all', seed: 0 });
    const again = await fineTuneUserModel(tf, modelJson, { units: 5, activation: 'softmax', trainLayers: 'all', seed: 0 });

    expect(tuned.headReplaced).toEqual({ layer: 'head', from: 3, to: 5 });
    expect(tuned.output).toEqual({ outputLayer: 'head', units: 5, activation: 'softmax' });
    const kernel = tuned.initial.find((t) => t.name === 'head/kernel')!;
    expect(kernel.shape).toEqual([16, 5]);
    expect(kernel.data.some((v) => v !== 0)).toBe(true);
    expect(again.initial.find((t) => t.name === 'head/kernel')!.data).toEqual(kernel.data);
    for (const t of file.initial.filter((t) => !t.name.startsWith('head/'))) {
      expect(tuned.initial.find((u) => u.name === t.name)!.data, t.name).toEqual(t.data);
    }
  });

  it('keeps the head when the units already fit the study', async () => {
    const tuned = await fineTuneUserModel(tf, modelJson, { units: 3, activation: 'softmax', trainLayers: 'head', seed: 0 });

    expect(tuned.headReplaced).toBeUndefined();
    const file = await readUserModel(tf, modelJson);
    expect(tuned.initial.find((t) => t.name === 'head/kernel')!.data).toEqual(file.initial.find((t) => t.name === 'head/kernel')!.data);
  });

  it('head: only the head trains and travels; every other tensor is frozen, pinned by the base hash of the file', async () => {
    const tuned = await fineTuneUserModel(tf, modelJson, { units: 2, activation: 'softmax', trainLayers: 'head', seed: 0 });
    const file = await readUserModel(tf, modelJson);

    const trained = tuned.layers.tensors.filter((t) => t.role === 'trained').map((t) => t.name);
    expect(trained).toEqual(['head/kernel', 'head/bias']);
    expect(tuned.layers.trainLayers).toBe('head');
    expect(tuned.layers.tensors.filter((t) => t.role === 'frozen')).toHaveLength(file.layers.tensors.length - 2);
    // A site's own copy of the file gives the same pin: the frozen tensors are the file's, bit for bit.
    expect(tuned.layers.baseHash).toBe(baseHash(tuned.layers, [...file.initial, ...file.base]));
  });

  it('last-block: the last residual block and the head train; all: every tensor; FedBN keeps BatchNormalization local', async () => {
    const last = await fineTuneUserModel(tf, modelJson, { units: 2, activation: 'softmax', trainLayers: 'last-block', seed: 0 });
    const all = await fineTuneUserModel(tf, modelJson, { units: 2, activation: 'softmax', trainLayers: 'all', seed: 0 });
    const fedbn = await fineTuneUserModel(tf, modelJson, { units: 2, activation: 'softmax', trainLayers: 'all', fedbn: true, seed: 0 });

    const trained = last.layers.tensors.filter((t) => t.role === 'trained').map((t) => t.name);
    expect(trained.every((n) => n.startsWith('stage4_') || n.startsWith('head/'))).toBe(true);
    expect(trained).toContain('stage4_block1_down_conv/kernel');
    expect(last.layers.tensors.find((t) => t.name === 'stage3_block1_conv2/kernel')!.role).toBe('frozen');
    expect(all.layers.tensors.every((t) => t.role === 'trained')).toBe(true);
    expect(all.layers.baseHash).toBeUndefined();
    expect(fedbn.layers.tensors.filter((t) => t.role === 'local').every((t) => /bn\d?\/|_bn\//.test(t.name))).toBe(true);
    expect(fedbn.layers.tensors.some((t) => t.role === 'local')).toBe(true);
  });
});
