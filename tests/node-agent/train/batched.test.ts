/** Batched multi-institution training equals K separate trainLocal runs, round by round through FedAvg, and keeps institutions apart. */
import { describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import { fedAvg } from '../../../coordinator/strategies/index.js';
import { loadMnist, mnistSpec, selectRows, type Dataset } from '../../../node-agent/data/index.js';
import { trainBatched } from '../../../node-agent/train/batched.js';
import { selectBackend, trainLocal, type TrainResult } from '../../../node-agent/train/index.js';
import type { NamedTensor, TrainConfig } from '../../../protocol/index.js';

type Arch = 'logreg' | 'mlp' | 'cnn';
type Trainer = (global: NamedTensor[], round: number) => Promise<TrainResult[]>;

/** Institution i: `sizes[i]` mixed-class digits of its own (disjoint strides through the 10,000), seed 100·i + round. */
function institutions(sizes: number[]): Dataset[] {
  return sizes.map((n, i) =>
    selectRows(
      loadMnist(),
      Array.from({ length: n }, (_, j) => (j * 97 + i * 13) % 10_000),
    ),
  );
}

/** One FedAvg round over the institutions' results, weighted by their training rows (the coordinator's strategy). */
function aggregate(global: NamedTensor[], results: TrainResult[]): NamedTensor[] {
  const acc = fedAvg.begin(
    global.map((t) => t.shape),
    global.map((t) => t.data),
  );
  for (const r of results)
    acc.add(
      r.weights.map((t) => t.data),
      r.trainSamples,
    );
  const next = acc.result() as Float32Array[];
  return global.map((t, i) => ({ ...t, data: next[i] as Float32Array }));
}

/** Largest |a − b| over every tensor of every institution. */
function maxDiff(a: TrainResult[], b: TrainResult[]): number {
  let max = 0;
  a.forEach((r, i) =>
    r.weights.forEach((t, j) => t.data.forEach((v, q) => (max = Math.max(max, Math.abs(v - (b[i]!.weights[j]!.data[q] as number)))))),
  );
  return max;
}

/** Runs `rounds` FedAvg rounds with both trainers from the same start and returns each round's largest weight difference. */
async function compareRounds(
  arch: Arch,
  sizes: number[],
  config: TrainConfig,
  rounds: number,
): Promise<{ diffs: number[]; moved: number; solo: TrainResult[] }> {
  const { tf } = await selectBackend('wasm');
  const spec = mnistSpec(arch);
  const data = institutions(sizes);
  const seed = (i: number, round: number) => 100 * i + round;
  const solo: Trainer = async (global, round) => {
    const out: TrainResult[] = [];
    for (const [i, d] of data.entries())
      out.push(await trainLocal({ tf, spec, weights: global, data: d, config, valFraction: 0.1, seed: seed(i, round) }));
    return out;
  };
  const batched: Trainer = (global, round) =>
    trainBatched({
      tf,
      spec,
      weights: global,
      institutions: data.map((d, i) => ({ data: d, seed: seed(i, round) })),
      config,
      valFraction: 0.1,
    });
  let [globalSolo, globalBatched] = [initialWeights(spec, 5), initialWeights(spec, 5)];
  const diffs: number[] = [];
  let last: TrainResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const [a, b] = [await solo(globalSolo, round), await batched(globalBatched, round)];
    diffs.push(maxDiff(a, b));
    expect(b.map((r) => r.trainSamples)).toEqual(a.map((r) => r.trainSamples));
    b.forEach((r, i) => expect(r.metrics.trainLoss).toBeCloseTo(a[i]!.metrics.trainLoss, 4));
    b.forEach((r, i) => expect(r.metrics.valAccuracy).toBeCloseTo(a[i]!.metrics.valAccuracy as number, 6));
    [globalSolo, globalBatched] = [aggregate(globalSolo, a), aggregate(globalBatched, b)];
    last = a;
  }
  const moved = maxDiff(last, [{ ...last[0]!, weights: initialWeights(spec, 5) }, ...last.slice(1)]);
  return { diffs, moved, solo: last };
}

describe('trainBatched (K institutions in one computation per step, wasm)', () => {
  it('equals separate trainLocal runs of the 2NN round by round over 2 FedAvg rounds, with unequal row counts', async () => {
    const { diffs, moved } = await compareRounds('mlp', [47, 30, 61], { localEpochs: 2, batchSize: 10, learningRate: 0.1 }, 2);

    expect(diffs).toHaveLength(2);
    for (const d of diffs) expect(d).toBeLessThan(1e-4);
    expect(moved).toBeGreaterThan(1e-2); // training really moved the weights, so equality is not trivial
  });

  it('equals separate trainLocal runs of logistic regression with a short last batch', async () => {
    const { diffs } = await compareRounds('logreg', [23, 40], { localEpochs: 3, batchSize: 8, learningRate: 0.2 }, 2);

    for (const d of diffs) expect(d).toBeLessThan(1e-4);
  });

  it('equals separate trainLocal runs of the MNIST CNN round by round over 2 FedAvg rounds', async () => {
    const { diffs, moved } = await compareRounds('cnn', [14, 21], { localEpochs: 2, batchSize: 10, learningRate: 0.05 }, 2);

    for (const d of diffs) expect(d).toBeLessThan(1e-4);
    expect(moved).toBeGreaterThan(1e-3);
  }, 60_000);

  it('gives different institutions different weights (no mixing: swapping two institutions swaps their results)', async () => {
    const { tf } = await selectBackend('wasm');
    const spec = mnistSpec('logreg');
    const [a, b] = institutions([30, 50]) as [Dataset, Dataset];
    const config = { localEpochs: 1, batchSize: 10, learningRate: 0.1 };
    const weights = initialWeights(spec, 2);

    const ab = await trainBatched({
      tf,
      spec,
      weights,
      institutions: [
        { data: a, seed: 1 },
        { data: b, seed: 2 },
      ],
      config,
    });
    const ba = await trainBatched({
      tf,
      spec,
      weights,
      institutions: [
        { data: b, seed: 2 },
        { data: a, seed: 1 },
      ],
      config,
    });

    expect(maxDiff([ab[0]!, ab[1]!], [ba[1]!, ba[0]!])).toBeLessThan(1e-6);
    expect(maxDiff([ab[0]!], [ab[1]!])).toBeGreaterThan(1e-2);
    expect(ab.map((r) => r.trainSamples)).toEqual([27, 45]);
  });

  it('refuses FedProx and leaks no tensors', async () => {
    const { tf } = await selectBackend('wasm');
    const spec = mnistSpec('logreg');
    const before = tf.memory().numTensors;

    const refused = trainBatched({
      tf,
      spec,
      weights: initialWeights(spec, 1),
      institutions: [{ data: institutions([20])[0]!, seed: 1 }],
      config: { localEpochs: 1, batchSize: 10, learningRate: 0.1, proximalMu: 0.1 },
    });

    await expect(refused).rejects.toThrow(/FedProx/);
    await trainBatched({
      tf,
      spec,
      weights: initialWeights(spec, 1),
      institutions: [{ data: institutions([20])[0]!, seed: 1 }],
      config: { localEpochs: 1, batchSize: 10, learningRate: 0.1 },
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
