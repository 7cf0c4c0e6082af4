/** Who takes part in an in-process round and what each trains on; the federation's institutions as the real path has them. */
import { selectParticipants } from '../../coordinator/rounds/selection.js';
import { selectRows, splitTrainTest, type Dataset } from '../../node-agent/data/index.js';
import type { BatchedInstitution } from '../../node-agent/train/batched.js';
import type { SimulationData } from './dataset.js';

/** Who takes part in a round and what each trains on: the federation's institutions, or a virtual population. */
export interface Cohort {
  pick(round: number): number[];
  institution(index: number, round: number): BatchedInstitution;
}

/** The seed of site i's agent in `cohort simulate` (seed · 1000 + i), and of its trainLocal in a round (· 100,003 + round). */
const agentSeed = (seed: number, institution: number): number => seed * 1000 + institution;

/**
 * The federation's institutions as the real path has them: the coordinator's selection over `institution-1..K`, each
 * site's rows split by its agent's seed into training and validation rows (site-data.ts), trainLocal's seed per round.
 * @example federationCohort(data, opts).pick(1) // e.g. [0, 4, 17]
 */
export function federationCohort(
  data: SimulationData,
  opts: { fraction: number; minParticipants?: number; seed: number; valFraction?: number },
): Cohort {
  const ids = data.sites.map((_, i) => `institution-${i + 1}`);
  const trainRows = new Map<number, Dataset>();
  return {
    pick(round) {
      const rule = { fraction: opts.fraction, minParticipants: opts.minParticipants ?? 1, seed: opts.seed, round };
      return selectParticipants(ids, rule).map((id) => Number(id.slice(12)) - 1);
    },
    institution(i, round) {
      let rows = trainRows.get(i);
      if (!rows) {
        const all = selectRows(data.all, (data.agents[i] as { rows: number[] }).rows);
        const { train, test } = splitTrainTest(all, opts.valFraction ?? 0.1, agentSeed(opts.seed, i));
        rows = test.length > 0 && train.length > 0 ? selectRows(all, train) : all;
        trainRows.set(i, rows);
      }
      return { data: rows, seed: agentSeed(opts.seed, i) * 100_003 + round };
    },
  };
}
