/** The virtual population: institutions made from (seed, index) only while sampled, so nothing grows with N. */
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../crypto/index.js';
import { prepareData } from '../../simulations/simulate/dataset.js';
import { runInProcess } from '../../simulations/simulate/in-process.js';
import { populationCohort } from '../../simulations/simulate/population-cohort.js';
import {
  consentCoversTraining,
  populationConsent,
  populationIdentity,
  populationRows,
  sampleDistinct,
  samplePopulation,
} from '../../simulations/simulate/population.js';

describe('virtual population', () => {
  it('samples K distinct institutions of N per round, reproducibly, differently from round to round', () => {
    const population = { size: 1_000_000, perRound: 1000, rows: 20 };

    const [a, again, b] = [samplePopulation(population, 7, 1), samplePopulation(population, 7, 1), samplePopulation(population, 7, 2)];

    expect(a).toHaveLength(1000);
    expect(new Set(a).size).toBe(1000);
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 1_000_000)).toBe(true);
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
    expect(sampleDistinct(5, 5, createPrng(1))).toEqual([0, 1, 2, 3, 4]); // all of them when K = N
  });

  it('allocates nothing of size N: a population of 2^53 - 1 samples and builds its institutions as fast as one of 1,000', () => {
    const data = prepareData({ kind: 'mnist' }, 'logreg', 1, { kind: 'iid' }, 0);
    const build = (size: number) => {
      const cohort = populationCohort(data, { size, perRound: 50, rows: 20 }, 3);
      const start = performance.now();
      const picked = cohort.pick(1);
      const institutions = picked.map((i) => cohort.institution(i, 1));
      return { picked, institutions, ms: performance.now() - start };
    };

    build(1000); // warm-up
    const small = build(1000);
    const huge = build(Number.MAX_SAFE_INTEGER); // an array, set or loop over N would not finish (or not fit)

    expect(huge.picked).toHaveLength(50);
    expect(huge.picked.some((i) => i > 2 ** 40)).toBe(true);
    expect(huge.institutions.every((inst) => inst.data.n === 20)).toBe(true);
    expect(huge.ms).toBeLessThan(small.ms * 5 + 200);
  });

  it('gives an institution sampled twice the same rows, keys and consent, and its own training seed per round', () => {
    const data = prepareData({ kind: 'mnist' }, 'logreg', 1, { kind: 'iid' }, 0);
    const population = { size: 100, perRound: 60, rows: 20 };
    const [r1, r2] = [samplePopulation(population, 5, 1), samplePopulation(population, 5, 2)];
    const twice = r1.find((i) => r2.includes(i)) as number;
    const [first, second] = [populationCohort(data, population, 5), populationCohort(data, population, 5)];

    const a = first.institution(twice, 1);
    const b = second.institution(twice, 2);

    expect(Array.from(b.data.x)).toEqual(Array.from(a.data.x));
    expect(b.data.y).toEqual(a.data.y);
    expect(b.seed).not.toBe(a.seed);
    expect(populationRows(5, twice, 20, data.train)).toEqual(populationRows(5, twice, 20, data.train));
    expect(populationRows(5, twice + 1, 20, data.train)).not.toEqual(populationRows(5, twice, 20, data.train));
    const [idA, idB] = [populationIdentity(5, twice), populationIdentity(5, twice)];
    expect(idB.signPublicKey).toEqual(idA.signPublicKey);
    expect(populationIdentity(6, twice).signPublicKey).not.toEqual(idA.signPublicKey);
    expect(populationConsent(idB, 'population', 'c'.repeat(64))).toEqual(populationConsent(idA, 'population', 'c'.repeat(64)));
  });

  it("checks each institution's consent: another study's consent or another key does not cover training", () => {
    const [site, other] = [populationIdentity(0, 1), populationIdentity(0, 2)];
    const study = 'a'.repeat(64);
    const consent = populationConsent(site, 'population', study);

    expect(consentCoversTraining(consent, site, study)).toBe(true);
    expect(consentCoversTraining(consent, site, 'b'.repeat(64))).toBe(false);
    expect(consentCoversTraining(consent, other, study)).toBe(false);
    expect(consentCoversTraining({ ...consent, body: { ...consent.body, uses: ['evaluation'] } }, site, study)).toBe(false);
  });

  it('trains FedAvg end to end over a population of a million with K institutions per round', async () => {
    const r = await runInProcess({
      dataset: { kind: 'mnist' },
      model: 'logreg',
      institutions: 1,
      partition: { kind: 'iid' },
      fraction: 1,
      rounds: 3,
      localEpochs: 1,
      batchSize: 10,
      learningRate: 0.05,
      seed: 1,
      backend: 'wasm',
      group: 4, // 10 institutions in 3 groups: the running sum across groups
      population: { size: 1_000_000, perRound: 10, rows: 50 },
    });

    expect(r.rounds.map((x) => x.institutions.length)).toEqual([10, 10, 10]);
    expect(r.rounds.map((x) => x.trainSamples)).toEqual([500, 500, 500]);
    expect(r.rounds[2]!.meanTrainLoss).toBeLessThan(r.rounds[0]!.meanTrainLoss);
    expect(r.final!.accuracy).toBeGreaterThan(0.5); // chance is 0.1
  }, 60_000);
});
