/** The in-process simulation: the batched trainer gives the one-institution-at-a-time path's global model, and FedAvg learns. */
import { describe, expect, it } from 'vitest';
import { runInProcess, sampleInstitutions, type InProcessOptions } from '../../simulations/simulate/in-process.js';

const base: InProcessOptions = {
  dataset: { kind: 'mnist' },
  model: 'mlp',
  institutions: 20,
  partition: { kind: 'iid' },
  fraction: 0.15,
  rounds: 2,
  localEpochs: 1,
  batchSize: 10,
  learningRate: 0.05,
  seed: 3,
  backend: 'wasm',
};

describe('runInProcess (McMahan FedAvg in one process)', () => {
  it('samples round(C·K) distinct institutions per round, reproducibly, differently from round to round', () => {
    const [a, again, b] = [sampleInstitutions(100, 0.1, 0, 1), sampleInstitutions(100, 0.1, 0, 1), sampleInstitutions(100, 0.1, 0, 2)];

    expect(a).toHaveLength(10);
    expect(new Set(a).size).toBe(10);
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
  });

  it('reaches the same global model with the batched trainer as with trainLocal per institution, round after round', async () => {
    const batchedRounds: number[] = [];
    const batched = await runInProcess({ ...base, trainer: 'batched' }, (r) => batchedRounds.push(r.meanTrainLoss));
    const sequential = await runInProcess({ ...base, trainer: 'sequential' });

    let max = 0;
    batched.weights.forEach((t, i) =>
      t.data.forEach((v, j) => (max = Math.max(max, Math.abs(v - (sequential.weights[i]!.data[j] as number))))),
    );
    expect(max).toBeLessThan(1e-4);
    batched.rounds.forEach((r, i) => expect(r.meanTrainLoss).toBeCloseTo(sequential.rounds[i]!.meanTrainLoss, 4));
    expect(batched.rounds.map((r) => r.institutions)).toEqual(sequential.rounds.map((r) => r.institutions));
    expect(batched.rounds[0]!.samples).toBe(3 * 400); // 3 institutions x 400 training digits x 1 epoch
    expect(batchedRounds[1]!).toBeLessThan(batchedRounds[0]!);
    expect(batched.final!.accuracy).toBeGreaterThan(0.6);
  }, 60_000);
});
