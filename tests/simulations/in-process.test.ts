/** The in-process simulation: the batched trainer gives the one-institution-at-a-time path's global model, and FedAvg learns. */
import { describe, expect, it } from 'vitest';
import { selectRows, splitTrainTest } from '../../node-agent/data/index.js';
import { prepareData } from '../../simulations/simulate/dataset.js';
import { federationCohort, runInProcess, type InProcessOptions } from '../../simulations/simulate/in-process.js';

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
  it('samples max(minimum, ceil(C·K)) distinct institutions per round as the coordinator does, reproducibly, differently from round to round', () => {
    const data = prepareData({ kind: 'mnist' }, 'logreg', 100, { kind: 'iid' }, 0);
    const cohort = federationCohort(data, { fraction: 0.1, seed: 0 });

    const [a, again, b] = [cohort.pick(1), cohort.pick(1), cohort.pick(2)];

    expect(a).toHaveLength(10);
    expect(new Set(a).size).toBe(10);
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
    expect(federationCohort(data, { fraction: 0.1, minParticipants: 30, seed: 0 }).pick(1)).toHaveLength(30);
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
    // 3 institutions x 400 digits less the stratified 10% each agent keeps for validation, x 1 epoch
    const data = prepareData(base.dataset, base.model, base.institutions, base.partition, base.seed);
    const kept = batched.rounds[0]!.institutions.map(
      (i) => splitTrainTest(selectRows(data.all, data.sites[i]!), 0.1, base.seed * 1000 + i).train.length,
    );
    expect(kept.every((n) => n > 350 && n < 370)).toBe(true);
    expect(batched.rounds[0]!.samples).toBe(kept.reduce((a, b) => a + b, 0));
    expect(batchedRounds[1]!).toBeLessThan(batchedRounds[0]!);
    expect(batched.final!.accuracy).toBeGreaterThan(0.6);
  }, 60_000);
});
