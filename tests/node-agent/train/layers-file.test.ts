/** Reading a user's TF.js Layers model from disk: both writers' formats, roles, the base pin, and each malformed file refused by name. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baseHash,
  describeLayersModel,
  parameterCount,
  tensorLayout,
  totalParameterCount,
  type ModelSpec,
} from '../../../protocol/index.js';
import { readLayersFile, readUserModel, selectBackend, type TF } from '../../../node-agent/train/index.js';
import { residualCnn, saveLayersModel } from './layers-fixtures.js';

let tf: TF;
let root: string;
let good: string;
let expected: Map<string, Float32Array>;

beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
  root = mkdtempSync(join(tmpdir(), 'cohort-layers-file-'));
  const model = residualCnn(tf);
  expected = new Map(model.weights.map((w, i) => [w.originalName, Float32Array.from(model.getWeights()[i]!.dataSync() as Float32Array)]));
  good = await saveLayersModel(tf, model, join(root, 'good'));
  model.dispose();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the good model.json with `edit` applied to its JSON, in its own folder with the same shards. */
function edited(name: string, edit: (json: Record<string, any>) => void): string {
  const dir = join(root, name);
  const json = JSON.parse(readFileSync(good, 'utf8'));
  edit(json);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'group1-shard1of1.bin'), readFileSync(join(root, 'good', 'group1-shard1of1.bin')));
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  return join(dir, 'model.json');
}

describe('readLayersFile', () => {
  it('reads what TF.js model.save writes: every weight, by its original name, with the saved values', async () => {
    const { file, model } = await readLayersFile(tf, good);
    model.dispose();

    expect(file.tensors.map((t) => t.name).sort()).toEqual([...expected.keys()].sort());
    for (const t of file.tensors) expect(t.data).toEqual(expected.get(t.name));
    expect(file.dequantized).toEqual([]);
  });

  it('reads what the Python converter writes from Keras (keras_version, model_config, training_config), cut into several shards', async () => {
    const model = residualCnn(tf);
    const path = await saveLayersModel(tf, model, join(root, 'keras'), { keras: true, shards: 3 });
    model.dispose();

    const { file, model: read } = await readLayersFile(tf, path);
    read.dispose();

    expect((file.topology as { keras_version?: string }).keras_version).toBe('2.15.0');
    for (const t of file.tensors) expect(t.data).toEqual(expected.get(t.name));
  });

  it('reads a Sequential model with Embedding and pooling (no base hash when nothing is frozen)', async () => {
    const seq = tf.sequential({ name: 'text' });
    seq.add(tf.layers.embedding({ inputDim: 50, outputDim: 8, inputLength: 12, name: 'emb' }));
    seq.add(tf.layers.globalAveragePooling1d({ name: 'avg' }));
    seq.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'cls' }));
    const path = await saveLayersModel(tf, seq, join(root, 'seq'));
    seq.dispose();

    const user = await readUserModel(tf, path);

    expect(user.inputShape).toEqual([12]);
    expect(user.layers.tensors.map((t) => `${t.name}:${t.role}`)).toEqual([
      'emb/embeddings:trained',
      'cls/kernel:trained',
      'cls/bias:trained',
    ]);
    expect(user.output).toEqual({ outputLayer: 'cls', units: 3, activation: 'softmax' });
    expect(user.layers.baseHash).toBeUndefined();
  });

  it('dequantizes uint8-quantized weights to within half a quantization step, and says which', async () => {
    const path = edited('quantized', () => undefined);
    const json = JSON.parse(readFileSync(path, 'utf8'));
    const bytes = new Uint8Array(readFileSync(join(root, 'good', 'group1-shard1of1.bin')));
    const out: number[] = [];
    const specs = json.weightsManifest[0].weights;
    let at = 0;
    let step = 0;
    for (const w of specs) {
      const n = w.shape.reduce((a: number, b: number) => a * b, 1);
      const values = new Float32Array(bytes.slice(at, at + n * 4).buffer);
      at += n * 4;
      if (w.name === 'conv/kernel') {
        const min = Math.min(...values);
        const scale = (Math.max(...values) - min) / 255;
        step = scale;
        w.quantization = { dtype: 'uint8', min, scale };
        for (const v of values) out.push(Math.round((v - min) / scale));
      } else {
        out.push(...new Uint8Array(values.buffer));
      }
    }
    writeFileSync(join(root, 'quantized', 'group1-shard1of1.bin'), Uint8Array.from(out));
    writeFileSync(path, JSON.stringify(json));

    const { file, model } = await readLayersFile(tf, path);
    model.dispose();

    expect(file.dequantized).toEqual(['conv/kernel']);
    const got = file.tensors.find((t) => t.name === 'conv/kernel')!.data;
    const want = expected.get('conv/kernel')!;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(step / 2 + 1e-6);
  });
});

describe('readLayersFile refuses a malformed file, naming the problem', () => {
  it('a missing shard: names its path', async () => {
    const path = edited('missing-shard', (j) => (j.weightsManifest[0].paths = ['group1-shard1of1.bin', 'group1-shard2of2.bin']));

    await expect(readLayersFile(tf, path)).rejects.toThrow(/weight shard group1-shard2of2\.bin \(weightsManifest\[0\]\) is missing/);
  });

  it('a shard of the wrong size (truncated)', async () => {
    const path = edited('truncated', () => undefined);
    const shard = join(root, 'truncated', 'group1-shard1of1.bin');
    writeFileSync(shard, readFileSync(shard).subarray(0, 100));

    await expect(readLayersFile(tf, path)).rejects.toThrow(/hold 100 bytes, its \d+ weights need \d+: a shard is truncated/);
  });

  it("a weight whose manifest shape is not its layer's", async () => {
    const path = edited('wrong-shape', (j) => {
      const specs = j.weightsManifest[0].weights;
      const kernel = specs.find((w: { name: string }) => w.name === 'out/kernel');
      const bias = specs.find((w: { name: string }) => w.name === 'out/bias');
      kernel.shape = [kernel.shape[0] / 2, 20]; // same byte count, another shape
      void bias;
    });

    await expect(readLayersFile(tf, path)).rejects.toThrow(
      /weight out\/kernel: the manifest gives shape \[392, 20\], its layer needs \[784, 10\]/,
    );
  });

  it('an unknown layer class: names it', async () => {
    const path = edited('unknown-layer', (j) => {
      const layer = j.modelTopology.config.layers.find((l: { name: string }) => l.name === 'out');
      layer.class_name = 'FancyDense';
    });

    await expect(readLayersFile(tf, path)).rejects.toThrow(/unknown layer class FancyDense/);
  });

  it('a graph model: says so and how to convert', async () => {
    const path = edited('graph', (j) => {
      j.format = 'graph-model';
      j.modelTopology = { node: [], versions: {} };
    });

    await expect(readLayersFile(tf, path)).rejects.toThrow(/is a TF\.js graph model .* --output_format tfjs_layers_model/);
  });

  it('a Keras 3 .keras archive (a zip): says so', async () => {
    const path = join(root, 'model.keras');
    writeFileSync(path, Buffer.from('PK\u0003\u0004rest-of-zip'));

    await expect(readLayersFile(tf, path)).rejects.toThrow(/zip archive \(a Keras 3 \.keras file\?\)/);
  });

  it('not JSON, no topology, no weights manifest, a missing file', async () => {
    const notJson = join(root, 'not.json');
    writeFileSync(notJson, '{ "format": ');

    await expect(readLayersFile(tf, notJson)).rejects.toThrow(/not\.json: is not JSON/);
    await expect(
      readLayersFile(
        tf,
        edited('no-topology', (j) => delete j.modelTopology),
      ),
    ).rejects.toThrow(/has no modelTopology object/);
    await expect(
      readLayersFile(
        tf,
        edited('no-manifest', (j) => delete j.weightsManifest),
      ),
    ).rejects.toThrow(/has no weightsManifest/);
    await expect(readLayersFile(tf, join(root, 'nowhere', 'model.json'))).rejects.toThrow(/model\.json: no such file/);
  });

  it('a weight of the model absent from the manifest, and a manifest weight no layer takes', async () => {
    const missing = edited('weight-missing', (j) => {
      const specs = j.weightsManifest[0].weights;
      specs.find((w: { name: string }) => w.name === 'stem/bias').name = 'stem/offset';
    });

    const extra = edited('weight-extra', (j) =>
      j.weightsManifest[0].weights.push({ name: 'head/kernel', shape: [0, 3], dtype: 'float32' }),
    );

    await expect(readLayersFile(tf, missing)).rejects.toThrow(
      /weight stem\/bias \(shape \[4\]\) of the model is not in the weights manifest/,
    );
    await expect(readLayersFile(tf, extra)).rejects.toThrow(/the weights manifest has weights no layer of the model takes: head\/kernel/);
  });
});

describe('readUserModel: roles and the base pin', () => {
  it('frozen layers are frozen, BatchNormalization (moving statistics included) is trained, and the base hash covers the frozen tensors', async () => {
    const user = await readUserModel(tf, good);

    const roles = Object.fromEntries(user.layers.tensors.map((t) => [t.name, t.role]));
    expect(roles).toEqual({
      'stem/kernel': 'frozen',
      'stem/bias': 'frozen',
      'bn/gamma': 'trained',
      'bn/beta': 'trained',
      'bn/moving_mean': 'trained',
      'bn/moving_variance': 'trained',
      'conv/kernel': 'trained',
      'conv/bias': 'trained',
      'out/kernel': 'trained',
      'out/bias': 'trained',
    });
    expect(user.inputShape).toEqual([28, 28, 1]);
    expect(user.base.map((t) => t.name).sort()).toEqual(['stem/bias', 'stem/kernel']);
    expect(user.initial.map((t) => t.name)).not.toContain('stem/kernel');
    expect(user.layers.baseHash).toBe(baseHash(user.layers, user.base));
    const spec: ModelSpec = { arch: 'layers', inputShape: user.inputShape, classes: [...'0123456789'], layers: user.layers };
    expect(tensorLayout(spec).map((t) => t.name)).toEqual(user.initial.map((t) => t.name));
    expect(parameterCount(spec)).toBe(4 * 4 + (3 * 3 * 4 * 4 + 4) + (784 * 10 + 10));
    expect(totalParameterCount(spec)).toBe(parameterCount(spec) + 3 * 3 * 1 * 4 + 4);
    expect(describeLayersModel(user.layers.topology)).toEqual({ outputLayer: 'out', units: 10, activation: 'softmax' });
  });

  it('with FedBN every BatchNormalization tensor is local, and pinned with the frozen ones', async () => {
    const user = await readUserModel(tf, good, { fedbn: true });

    expect(user.layers.tensors.filter((t) => t.role === 'local').map((t) => t.name)).toEqual([
      'bn/gamma',
      'bn/beta',
      'bn/moving_mean',
      'bn/moving_variance',
    ]);
    expect(user.layers.fedbn).toBe(true);
    expect(user.base.map((t) => t.name).sort()).toEqual([
      'bn/beta',
      'bn/gamma',
      'bn/moving_mean',
      'bn/moving_variance',
      'stem/bias',
      'stem/kernel',
    ]);
    expect(user.layers.baseHash).toBe(baseHash(user.layers, user.base));
  });

  it('the base hash changes with one frozen value and not with a trained one', async () => {
    const user = await readUserModel(tf, good);
    const tensors = [...user.base, ...user.initial].map((t) => ({ ...t, data: t.data.slice() }));
    const pin = baseHash(user.layers, tensors);

    tensors.find((t) => t.name === 'out/kernel')!.data[0]! += 1;
    const afterTrained = baseHash(user.layers, tensors);
    tensors.find((t) => t.name === 'stem/kernel')!.data[0]! += 1e-6;
    const afterFrozen = baseHash(user.layers, tensors);

    expect(afterTrained).toBe(pin);
    expect(afterFrozen).not.toBe(pin);
  });
});
