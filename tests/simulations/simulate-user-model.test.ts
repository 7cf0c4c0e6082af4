/** `cohort simulate --model PATH`: a user's functional Layers model trained end to end by the real CLI, and a malformed one refused before any round. */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { decodeTensors } from '../../protocol/index.js';
import { readUserModel, selectBackend, type UserModel } from '../../node-agent/train/index.js';
import { residualCnn, saveLayersModel } from '../node-agent/train/layers-fixtures.js';
import { runCli } from './cli-helpers.js';

let root: string;
let modelJson: string;
let user: UserModel;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cohort-simulate-user-'));
  const { tf } = await selectBackend('cpu');
  const model = residualCnn(tf);
  modelJson = await saveLayersModel(tf, model, join(root, 'net'));
  model.dispose();
  user = await readUserModel(tf, modelJson);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cohort simulate --model PATH (a functional CNN with a frozen conv, BatchNormalization, Dropout and a residual Add)', () => {
  it("trains it for 2 rounds on MNIST with 2 institutions; the published models carry only the trainable tensors, version 0 the file's", async () => {
    const out = join(root, 'run');

    const result = await runCli(
      [
        'simulate',
        '--out',
        out,
        '--model',
        modelJson,
        '--dataset',
        'mnist',
        '--institutions',
        '2',
        '--rounds',
        '2',
        '--local-epochs',
        '1',
        '--batch-size',
        '32',
        '--lr',
        '0.05',
      ],
      { timeoutMs: 90_000 },
    );

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(
      /User model .*model\.json: 8,054 parameters: 8,014 trained and sent, 40 frozen \(base [0-9a-f]{12}…\), 0 local/,
    );
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.rounds).toHaveLength(2);
    expect(summary.config.spec.arch).toBe('layers');
    expect(summary.final.accuracy).toBeGreaterThan(0.5);
    const store = openSqliteStore(join(out, 'coordinator.db'));
    try {
      const v0 = decodeTensors(loadModelFile(out, store.getModel('simulation', 0)!.path, store.getModel('simulation', 0)!.digest)).tensors;
      const v2 = decodeTensors(loadModelFile(out, store.getModel('simulation', 2)!.path, store.getModel('simulation', 2)!.digest)).tensors;
      expect(v0.map((t) => t.name)).toEqual(user.initial.map((t) => t.name));
      v0.forEach((t, i) => expect(t.data).toEqual(user.initial[i]!.data));
      expect(v2.map((t) => t.name)).not.toContain('stem/kernel');
      expect(store.getFederation('simulation')!.manifest.model.baseHash).toBe(user.layers.baseHash);
    } finally {
      store.close();
    }
    expect(existsSync(join(out, 'models', 'simulation', 'base', 'model.json'))).toBe(true);
    expect(existsSync(join(out, 'models', 'simulation', 'base', 'group1-shard1of1.bin'))).toBe(true);
    expect(summary.model.parameters).toBe(8_054);
    expect(summary.model.trainableParameters).toBe(8_014);

    // Exported, the published user model is whole again (its base from the data directory) and tf.loadLayersModel loads it.
    const exported = await runCli(['model', 'export', join(out, 'models', 'simulation', 'v2.cohort'), '--out', join(root, 'exported')]);
    expect(exported.code, exported.stderr).toBe(0);
    const { tf } = await selectBackend('cpu');
    const json = JSON.parse(readFileSync(join(root, 'exported', 'model.json'), 'utf8'));
    const bin = readFileSync(join(root, 'exported', 'weights.bin'));
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      }),
    );
    expect(loaded.countParams()).toBe(8_054);
    const frozen = loaded.getLayer('stem').getWeights()[0]!.dataSync();
    expect(Array.from(frozen)).toEqual(Array.from(user.base.find((t) => t.name === 'stem/kernel')!.data));
    loaded.dispose();
  });

  it('refuses a model with a missing shard before any round, naming the shard, and creates no run folder', async () => {
    const out = join(root, 'refused');
    const { tf } = await selectBackend('cpu');
    const model = residualCnn(tf);
    const broken = await saveLayersModel(tf, model, join(root, 'broken'));
    model.dispose();
    unlinkSync(join(root, 'broken', 'group1-shard1of1.bin'));

    const result = await runCli(['simulate', '--out', out, '--model', broken, '--institutions', '2', '--rounds', '1'], {
      timeoutMs: 30_000,
    });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/weight shard group1-shard1of1\.bin \(weightsManifest\[0\]\) is missing/);
    expect(existsSync(out)).toBe(false);
  });

  it("refuses a model whose output does not match the data's classes, naming both", async () => {
    const { tf } = await selectBackend('cpu');
    const seq = tf.sequential();
    seq.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
    seq.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'three' }));
    const three = await saveLayersModel(tf, seq, join(root, 'three'));
    seq.dispose();

    const result = await runCli(['simulate', '--out', join(root, 'three-run'), '--model', three, '--institutions', '2', '--rounds', '1'], {
      timeoutMs: 30_000,
    });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/output layer three has 3 units, a classification task over 0, 1, .* needs 10/);
  });
});
