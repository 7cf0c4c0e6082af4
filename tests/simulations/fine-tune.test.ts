/** `cohort pretrain` then `cohort simulate --train-layers`: a pretrained ResNet fine-tuned federated on other digits, what travels, and the base task before and after. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { decodeTensors, type NamedTensor } from '../../protocol/index.js';
import { readLayersFile, selectBackend } from '../../node-agent/train/index.js';
import { runCli } from './cli-helpers.js';

let root: string;
let pretrained: { code: number | null; stdout: string; stderr: string };
const modelJson = (): string => join(root, 'pre', 'model.json');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cohort-fine-tune-'));
  pretrained = await runCli(
    [
      'pretrain',
      '--dataset',
      'mnist',
      '--classes',
      '0,1',
      '--model',
      'resnet:10x2',
      '--epochs',
      '1',
      '--lr',
      '0.01',
      '--out',
      join(root, 'pre'),
    ],
    { timeoutMs: 60_000 },
  );
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every published version's tensors, by version. */
function published(out: string): NamedTensor[][] {
  const store = openSqliteStore(join(out, 'coordinator.db'));
  try {
    const versions: NamedTensor[][] = [];
    for (let v = 0; store.getModel('simulation', v); v++) {
      const record = store.getModel('simulation', v)!;
      versions.push(decodeTensors(loadModelFile(out, record.path, record.digest)).tensors);
    }
    return versions;
  } finally {
    store.close();
  }
}

const simulate = (out: string, extra: string[]) =>
  runCli(['simulate', '--out', out, '--dataset', 'mnist', '--institutions', '2', '--local-epochs', '1', '--batch-size', '32', ...extra], {
    timeoutMs: 60_000,
  });

describe('cohort pretrain', () => {
  it('writes a model.json that tf.loadLayersModel loads, recording its classes and its held-out accuracy', async () => {
    expect(pretrained.code, `${pretrained.stdout}\n${pretrained.stderr}`).toBe(0);
    expect(pretrained.stdout).toMatch(/epoch 1\/1: training loss [0-9.]+, accuracy [0-9.]+/);

    const json = JSON.parse(readFileSync(modelJson(), 'utf8'));
    const { tf } = await selectBackend('cpu');
    const weights = new Uint8Array(readFileSync(join(root, 'pre', 'weights.bin')));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: weights.buffer }),
    );
    const out = model.predict(tf.zeros([1, 28, 28, 1])) as import('@tensorflow/tfjs').Tensor;
    const shape = out.shape;
    tf.dispose([out]);
    model.dispose();

    expect(shape).toEqual([1, 2]);
    expect(json.userDefinedMetadata.cohort).toMatchObject({ dataset: 'mnist', classes: ['0', '1'], seed: 0, testFraction: 0.2 });
    expect(json.userDefinedMetadata.cohort.testAccuracy).toBeGreaterThan(0.9);
    expect(pretrained.stdout).toContain(`accuracy ${json.userDefinedMetadata.cohort.testAccuracy.toFixed(4)}`);
  });
});

describe('cohort simulate --model PRETRAINED --train-layers', () => {
  it('head: a new head for digits 2 and 3 is the only tensor that travels; the frozen body leaves the base task exactly as it was', async () => {
    const out = join(root, 'head');

    const result = await simulate(out, [
      '--model',
      modelJson(),
      '--train-layers',
      'head',
      '--classes',
      '2,3',
      '--rounds',
      '2',
      '--base-task-data',
      'mnist',
    ]);

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/output layer head replaced \(2 -> 2 units, new seeded weights\)/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const meta = JSON.parse(readFileSync(modelJson(), 'utf8')).userDefinedMetadata.cohort;
    // The same held-out rows and the same model as pretrain scored: the same accuracy, from a real evaluation.
    expect(summary.forgetting.before.accuracy).toBe(meta.testAccuracy);
    expect(summary.forgetting.after).toEqual(summary.forgetting.before);
    expect(summary.forgetting.baseTask).toMatchObject({ dataset: 'mnist', classes: ['0', '1'] });
    expect(summary.final.accuracy).toBeGreaterThan(0.55); // two classes: above chance, on the 16 features of a 0-or-1 detector
    expect(summary.config.spec.layers.trainLayers).toBe('head');
    const versions = published(out);
    expect(versions).toHaveLength(3);
    for (const v of versions) expect(v.map((t) => t.name)).toEqual(['head/kernel', 'head/bias']);
    expect(versions[2]![0]!.data).not.toEqual(versions[0]![0]!.data);
    expect(summary.model.trainableParameters).toBe(16 * 2 + 2);

    // The published model, exported whole: every tensor but the head is the pretrained file's, bit for bit.
    const exported = await runCli(['model', 'export', join(out, 'models', 'simulation', 'v2.cohort'), '--out', join(root, 'head-export')]);
    expect(exported.code, exported.stderr).toBe(0);
    const { tf } = await selectBackend('cpu');
    const [before, after] = await Promise.all([
      readLayersFile(tf, modelJson()),
      readLayersFile(tf, join(root, 'head-export', 'model.json')),
    ]);
    before.model.dispose();
    after.model.dispose();
    const body = (file: typeof before.file) => file.tensors.filter((t) => !t.name.startsWith('head/'));
    const pretrainedBody = new Map(body(before.file).map((t) => [t.name, t.data]));
    expect(
      body(after.file)
        .map((t) => t.name)
        .sort(),
    ).toEqual([...pretrainedBody.keys()].sort());
    for (const t of body(after.file))
      expect(Buffer.from(t.data.buffer).equals(Buffer.from(pretrainedBody.get(t.name)!.buffer)), t.name).toBe(true);
    expect(after.file.tensors.find((t) => t.name === 'head/kernel')!.data).toEqual(versions[2]![0]!.data);
  }, 60_000);

  it('all: every tensor travels and the base task moves (forgetting is measured, not assumed)', async () => {
    const out = join(root, 'all');

    const result = await simulate(out, [
      '--model',
      modelJson(),
      '--train-layers',
      'all',
      '--classes',
      '2,3',
      '--rounds',
      '1',
      '--base-task-data',
      'mnist',
    ]);

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.forgetting.after.accuracy).not.toBe(summary.forgetting.before.accuracy);
    expect(summary.forgetting.change).toBeCloseTo(summary.forgetting.after.accuracy - summary.forgetting.before.accuracy, 10);
    expect(result.stdout).toContain(`${summary.forgetting.after.accuracy.toFixed(4)} after`);
    const store = openSqliteStore(join(out, 'coordinator.db'));
    const manifest = store.getFederation('simulation')!.manifest;
    store.close();
    expect(manifest.model.trainLayers).toBe('all');
    expect(manifest.training).toMatchObject({ optimizer: 'adam', weightDecay: 0.01 });
    expect(published(out)[1]!.length).toBe(summary.config.spec.layers.tensors.length);
  }, 60_000);
});

describe('cohort simulate --model resnet:10x2 --fedbn', () => {
  it('trains the preset a round end to end; BatchNormalization stays at the sites', async () => {
    const out = join(root, 'resnet');

    const result = await simulate(out, [
      '--model',
      'resnet:10x2',
      '--fedbn',
      '--classes',
      '0,1',
      '--rounds',
      '1',
      '--optimizer',
      'adam',
      '--lr',
      '0.01',
    ]);

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/ResNet-10 \(width 2\), written to .*model\.json: 5,[0-9]{3} parameters/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.rounds).toHaveLength(1);
    expect(Number.isFinite(summary.final.loss)).toBe(true);
    const names = published(out)[1]!.map((t) => t.name);
    expect(names).toContain('head/kernel');
    expect(names.filter((n) => /bn\d?\/|_bn\//.test(n))).toEqual([]);
  }, 60_000);
});
