/** trainLocal for each task's loss and with each optimizer term: it learns, the terms act, nothing leaks. */
import { describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import { createPrng } from '../../../crypto/prng.js';
import type { ModelSpec, NamedTensor, TrainConfig } from '../../../protocol/index.js';
import type { Dataset } from '../../../node-agent/data/index.js';
import { evaluate, selectBackend, trainLocal } from '../../../node-agent/train/index.js';

/** 400 rows of 3 standard-normal features and the labels `label` makes of them. */
function dataset(spec: ModelSpec, label: (z: number[]) => { y?: number; targets?: number[] }): Dataset {
  const rng = createPrng(9);
  const n = 400;
  const x = new Float32Array(n * 3);
  const y = new Int32Array(n);
  const targets: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = [rng.normal(), rng.normal(), rng.normal()];
    x.set(z, i * 3);
    const l = label(z);
    y[i] = l.y ?? 0;
    targets.push(...(l.targets ?? []));
  }
  return { x, y, n, inputShape: [3], classes: [...spec.classes], ...(targets.length ? { targets: Float32Array.from(targets) } : {}) };
}

const norm = (weights: NamedTensor[]): number => Math.sqrt(weights.reduce((s, t) => s + t.data.reduce((a, v) => a + v * v, 0), 0));
const base: TrainConfig = { localEpochs: 3, batchSize: 10, learningRate: 0.1 };

describe('trainLocal by task (cpu)', () => {
  it('learns a binary outcome with one sigmoid unit and reports AUC, sensitivity, specificity and Brier', async () => {
    const { tf } = await selectBackend('cpu');
    const spec: ModelSpec = { arch: 'logreg', inputShape: [3], classes: ['no', 'yes'], task: 'binary' };
    const data = dataset(spec, (z) => ({ y: z[0]! - z[1]! > 0 ? 1 : 0 }));
    const before = tf.memory().numTensors;

    const { weights, metrics } = await trainLocal({ tf, spec, weights: initialWeights(spec, 1), data, config: base, valFraction: 0.2 });
    const ev = await evaluate({ tf, spec, weights, data });

    expect(weights.find((t) => t.name === 'dense_0/kernel')?.shape).toEqual([3, 1]);
    expect(ev.accuracy).toBeGreaterThan(0.9);
    expect(ev.scores.valAuc).toBeGreaterThan(0.95);
    expect(metrics.valSensitivity).toBeGreaterThan(0.8);
    expect(metrics.valSpecificity).toBeGreaterThan(0.8);
    expect(metrics.valBrier).toBeLessThan(0.15);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('learns two labels at once and a linear target; regression reports no accuracy', async () => {
    const { tf } = await selectBackend('cpu');
    const multi: ModelSpec = { arch: 'mlp', hidden: [8], inputShape: [3], classes: ['a', 'b'], task: 'multilabel' };
    const reg: ModelSpec = { arch: 'logreg', inputShape: [3], classes: ['y'], task: 'regression' };
    const multiData = dataset(multi, (z) => ({ targets: [z[0]! > 0 ? 1 : 0, z[2]! > 0 ? 1 : 0] }));
    const regData = dataset(reg, (z) => ({ targets: [0.8 * z[0]! - 0.4 * z[1]! + 0.3] }));

    const m = await trainLocal({
      tf,
      spec: multi,
      weights: initialWeights(multi, 2),
      data: multiData,
      config: { ...base, optimizer: 'adam', learningRate: 0.02 },
      valFraction: 0.2,
    });
    const r = await trainLocal({
      tf,
      spec: reg,
      weights: initialWeights(reg, 3),
      data: regData,
      config: { ...base, optimizer: 'momentum', momentum: 0.9, learningRate: 0.02 },
      valFraction: 0.2,
    });

    expect(m.metrics.valAccuracy).toBeGreaterThan(0.85);
    expect(m.metrics.valMacroF1).toBeGreaterThan(0.85);
    expect(r.metrics.valR2).toBeGreaterThan(0.95);
    expect(r.metrics.trainAccuracy).toBeUndefined();
    expect(r.metrics.valAccuracy).toBeUndefined();
    expect(r.metrics.valRmse).toBeCloseTo(Math.sqrt(r.metrics.valLoss as number), 4);
  });

  it('shrinks the weights with decoupled weight decay (adam) and with L2 (sgd)', async () => {
    const { tf } = await selectBackend('cpu');
    const spec: ModelSpec = { arch: 'logreg', inputShape: [3], classes: ['no', 'yes'], task: 'binary' };
    const data = dataset(spec, (z) => ({ y: z[0]! > 0 ? 1 : 0 }));
    const start = initialWeights(spec, 4);
    const run = (config: TrainConfig) => trainLocal({ tf, spec, weights: start, data, config, valFraction: 0, seed: 1 });

    const [adam, adamW, sgd, sgdL2] = await Promise.all([
      run({ ...base, optimizer: 'adam', learningRate: 0.05 }),
      run({ ...base, optimizer: 'adam', learningRate: 0.05, weightDecay: 0.5 }),
      run(base),
      run({ ...base, weightDecay: 0.5 }),
    ]);

    expect(norm(adamW.weights)).toBeLessThan(0.8 * norm(adam.weights));
    expect(norm(sgdL2.weights)).toBeLessThan(0.8 * norm(sgd.weights));
  });

  it('weights rows by balanced class weights: the rare class is found more often', async () => {
    const { tf } = await selectBackend('cpu');
    const spec: ModelSpec = { arch: 'logreg', inputShape: [3], classes: ['no', 'yes'], task: 'binary' };
    // About 10% positives, overlapping the negatives (noise in the rule).
    const rng = createPrng(5);
    const data = dataset(spec, (z) => ({ y: z[0]! + 0.8 * rng.normal() > 1.6 ? 1 : 0 }));
    const start = initialWeights(spec, 6);
    const config = { ...base, learningRate: 0.05 };

    const plain = await trainLocal({ tf, spec, weights: start, data, config, valFraction: 0, seed: 2 });
    const weighted = await trainLocal({
      tf,
      spec,
      weights: start,
      data,
      config: { ...config, classWeight: 'balanced' },
      valFraction: 0,
      seed: 2,
    });
    const sensitivity = async (w: NamedTensor[]) => (await evaluate({ tf, spec, weights: w, data })).scores.valSensitivity as number;

    expect(await sensitivity(weighted.weights)).toBeGreaterThan((await sensitivity(plain.weights)) + 0.2);
  });

  it('refuses class weights for a regression task, naming it', async () => {
    const { tf } = await selectBackend('cpu');
    const spec: ModelSpec = { arch: 'logreg', inputShape: [3], classes: ['y'], task: 'regression' };
    const data = dataset(spec, (z) => ({ targets: [z[0]!] }));

    await expect(
      trainLocal({ tf, spec, weights: initialWeights(spec, 1), data, config: { ...base, classWeight: 'balanced' } }),
    ).rejects.toThrow(/classWeight balanced applies to classification and binary tasks, not regression/);
  });
});
