/** Training a user's Layers model at a site: only trainable tensors change and travel, BatchNorm statistics move, FedBN keeps them local, the base is checked, and wasm trains what it can. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec, NamedTensor } from '../../../protocol/index.js';
import { loadMnist, selectRows, type Dataset } from '../../../node-agent/data/index.js';
import {
  backendForSpec,
  buildLayersModel,
  getLayersWeights,
  readUserModel,
  selectBackend,
  setLayersWeights,
  siteBase,
  trainLocal,
  type TF,
  type UserModel,
} from '../../../node-agent/train/index.js';
import { residualCnn, saveLayersModel } from './layers-fixtures.js';
import { recordingLog } from '../helpers.js';

const DIGITS = [...'0123456789'];
const config = { localEpochs: 1, batchSize: 10, learningRate: 0.05 };
let tf: TF;
let root: string;
let path: string;
let data: Dataset;

const specOf = (user: UserModel): ModelSpec => ({ arch: 'layers', inputShape: user.inputShape, classes: DIGITS, layers: user.layers });
const byName = (tensors: NamedTensor[]) => new Map(tensors.map((t) => [t.name, t.data]));

beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
  root = mkdtempSync(join(tmpdir(), 'cohort-layers-train-'));
  const model = residualCnn(tf);
  path = await saveLayersModel(tf, model, join(root, 'net'));
  model.dispose();
  data = selectRows(
    loadMnist(),
    Array.from({ length: 60 }, (_, i) => i),
  );
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('trainLocal with a user model', () => {
  it('returns only the trained tensors, changed, with BatchNormalization moving statistics updated', async () => {
    const user = await readUserModel(tf, path);
    const spec = specOf(user);

    const result = await trainLocal({ tf, spec, weights: user.initial, base: user.base, data, config, valFraction: 0 });

    expect(result.weights.map((t) => t.name)).toEqual(user.initial.map((t) => t.name));
    expect(result.weights.map((t) => t.name)).not.toContain('stem/kernel');
    expect(result.local).toBeUndefined();
    const before = byName(user.initial);
    const after = byName(result.weights);
    for (const name of ['bn/moving_mean', 'bn/moving_variance', 'bn/gamma', 'conv/kernel', 'out/kernel'])
      expect(after.get(name)).not.toEqual(before.get(name));
  });

  it('leaves the frozen tensors bit-identical in the trained model', async () => {
    const user = await readUserModel(tf, path);
    const spec = specOf(user);
    const model = await buildLayersModel(tf, spec);
    setLayersWeights(tf, model, spec, [...user.base, ...user.initial]);
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor(data.x.slice(0, 20 * 784), [20, 28, 28, 1]);
    const ys = tf.oneHot(tf.tensor1d(Array.from(data.y.slice(0, 20)), 'int32'), 10);

    for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
    const { frozen, trained } = getLayersWeights(model, spec);
    tf.dispose([xs, ys]);
    model.dispose();

    expect(frozen.map((t) => t.name)).toEqual(['stem/kernel', 'stem/bias']);
    const base = byName(user.base);
    for (const t of frozen) expect(Buffer.from(t.data.buffer).equals(Buffer.from(base.get(t.name)!.buffer))).toBe(true);
    expect(byName(trained).get('conv/kernel')).not.toEqual(byName(user.initial).get('conv/kernel'));
  });

  it('under FedBN returns the BatchNormalization tensors apart, as local, and sends none of them', async () => {
    const user = await readUserModel(tf, path, { fedbn: true });
    const spec = specOf(user);

    const result = await trainLocal({ tf, spec, weights: user.initial, base: user.base, data, config, valFraction: 0 });

    expect(result.weights.map((t) => t.name).filter((n) => n.startsWith('bn/'))).toEqual([]);
    expect(result.local?.map((t) => t.name)).toEqual(['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']);
    expect(byName(result.local!).get('bn/moving_mean')).not.toEqual(byName(user.base).get('bn/moving_mean'));
  });

  it('refuses to train without the base tensors (MODEL_BASE_MISMATCH)', async () => {
    const user = await readUserModel(tf, path);

    await expect(trainLocal({ tf, spec: specOf(user), weights: user.initial, data, config })).rejects.toMatchObject({
      code: 'MODEL_BASE_MISMATCH',
    });
  });
});

describe('siteBase', () => {
  it("returns the site's frozen tensors when its file matches the pin, and refuses another base or no file, saying why", async () => {
    const user = await readUserModel(tf, path);
    const spec = specOf(user);
    const other = residualCnn(tf, { seed: 99 });
    const otherPath = await saveLayersModel(tf, other, join(root, 'other'));
    other.dispose();

    const held = await siteBase(tf, spec, path);

    expect(held.map((t) => t.name)).toEqual(['stem/kernel', 'stem/bias']);
    await expect(siteBase(tf, spec, otherPath)).rejects.toMatchObject({
      code: 'MODEL_BASE_MISMATCH',
      message: expect.stringMatching(/holds base [0-9a-f]{16}…, the federation's model pins/),
    });
    await expect(siteBase(tf, spec, undefined)).rejects.toMatchObject({
      code: 'MODEL_BASE_MISMATCH',
      message: expect.stringMatching(/--model PATH/),
    });
    await expect(siteBase(tf, spec, join(root, 'absent', 'model.json'))).rejects.toMatchObject({
      code: 'MODEL_BASE_MISMATCH',
      message: expect.stringMatching(/no such file/),
    });
  });
});

describe('backendForSpec with a user model on wasm', () => {
  it('keeps wasm for conv, BatchNormalization, Add, pooling and Dropout, and trains them there', async () => {
    const wasm = await selectBackend('wasm');
    const user = await readUserModel(wasm.tf, path);
    const spec = specOf(user);
    const { lines, log } = recordingLog();

    const picked = await backendForSpec(spec, wasm, log);
    const result = await trainLocal({ tf: picked.tf, spec, weights: user.initial, base: user.base, data, config, valFraction: 0 });

    expect(picked.name).toBe('wasm');
    expect(lines).toEqual([]);
    expect(result.weights.every((t) => t.data.every(Number.isFinite))).toBe(true);
    await selectBackend('cpu');
  });

  it('trains a functional model with two branches joined by Concatenate, average pooling and Dropout on wasm', async () => {
    const wasm = await selectBackend('wasm');
    const t = wasm.tf;
    const input = t.input({ shape: [28, 28, 1] });
    const a = t.layers.conv2d({ name: 'a', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as never;
    const b = t.layers.conv2d({ name: 'b', filters: 2, kernelSize: 5, padding: 'same', activation: 'relu' }).apply(input) as never;
    let x = t.layers.concatenate({ name: 'join' }).apply([a, b]) as never;
    x = t.layers.averagePooling2d({ name: 'avg', poolSize: 4 }).apply(x) as never;
    x = t.layers.flatten().apply(x) as never;
    x = t.layers.dropout({ rate: 0.3 }).apply(x) as never;
    const out = t.layers.dense({ name: 'cls', units: 10, activation: 'softmax' }).apply(x) as never;
    const model = t.model({ inputs: input, outputs: out });
    const twoPath = await saveLayersModel(t, model, join(root, 'two-branch'));
    model.dispose();
    const user = await readUserModel(t, twoPath);
    const spec = specOf(user);

    const picked = await backendForSpec(spec, wasm);
    const result = await trainLocal({ tf: picked.tf, spec, weights: user.initial, base: user.base, data, config, valFraction: 0 });

    expect(picked.name).toBe('wasm');
    expect(result.weights.map((w) => w.name)).toEqual(['a/kernel', 'a/bias', 'b/kernel', 'b/bias', 'cls/kernel', 'cls/bias']);
    expect(byName(result.weights).get('b/kernel')).not.toEqual(byName(user.initial).get('b/kernel'));
    await selectBackend('cpu');
  });

  it('moves to cpu, naming the layer and kernel, for an Embedding (no UnsortedSegmentSum on wasm)', async () => {
    const wasm = await selectBackend('wasm');
    const seq = wasm.tf.sequential();
    seq.add(wasm.tf.layers.embedding({ inputDim: 20, outputDim: 4, inputLength: 5, name: 'emb' }));
    seq.add(wasm.tf.layers.flatten());
    seq.add(wasm.tf.layers.dense({ units: 2, activation: 'softmax', name: 'cls' }));
    const embPath = await saveLayersModel(wasm.tf, seq, join(root, 'emb'));
    seq.dispose();
    const user = await readUserModel(wasm.tf, embPath);
    const { lines, log } = recordingLog();

    const picked = await backendForSpec(
      { arch: 'layers', inputShape: user.inputShape, classes: ['a', 'b'], layers: user.layers },
      wasm,
      log,
    );

    expect(picked.name).toBe('cpu');
    expect(lines.find((l) => l.level === 'warn')?.msg).toMatch(/UnsortedSegmentSum \(for Embedding\)/);
  });
});
