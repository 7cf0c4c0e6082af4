/** A virtual population as an in-process cohort: each round's K institutions made from (seed, index) when sampled, and forgotten after. */
import { sha256Hex, utf8Encode } from '../../crypto/index.js';
import { canonicalJson } from '../../protocol/index.js';
import { selectRows } from '../../node-agent/data/index.js';
import type { SimulationData } from './dataset.js';
import type { Cohort } from './cohort.js';
import {
  consentCoversTraining,
  populationConsent,
  populationIdentity,
  populationRows,
  populationTrainSeed,
  samplePopulation,
  type PopulationOptions,
} from './population.js';

export type { PopulationOptions } from './population.js';

/**
 * The cohort of a virtual population over the shared training rows: a round samples K of N indices (O(K) work), and
 * each sampled institution's keys are derived, its consent signed and checked, and its rows drawn, then dropped. Nothing
 * is kept per institution, so memory does not depend on N.
 * @example populationCohort(data, { size: 1_000_000, perRound: 1000, rows: 20 }, 0).pick(1).length // 1000
 */
export function populationCohort(data: SimulationData, population: PopulationOptions, seed: number): Cohort {
  if (!(population.perRound >= 1 && population.perRound <= population.size))
    throw new Error(`--institutions-per-round ${population.perRound} must be between 1 and the population, ${population.size}`);
  const study = sha256Hex(utf8Encode(canonicalJson({ population: population.size, spec: data.spec, seed })));
  return {
    pick(round) {
      // Each sampled institution exists from here: its keys and its signed consent, checked before it trains.
      return samplePopulation(population, seed, round).filter((i) => {
        const identity = populationIdentity(seed, i);
        const covered = consentCoversTraining(populationConsent(identity, 'population', study), identity, study);
        identity.signSecretKey.fill(0);
        return covered;
      });
    },
    institution(i, round) {
      return {
        data: selectRows(data.all, populationRows(seed, i, population.rows, data.train)),
        seed: populationTrainSeed(seed, i, round),
      };
    },
  };
}
