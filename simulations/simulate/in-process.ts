/** A federated simulation in one process, no coordinator server, agents or sockets: sampled institutions trained by the batched trainer, aggregated by the coordinator's strategy. */
import { initialWeights } from '../../coordinator/models/index.js';
import { createStrategy, type Accumulator, type StrategyParams } from '../../coordinator/strategies/index.js';
import { selectRows, type Dataset, type PartitionScheme } from '../../node-agent/data/index.js';
import { trainBatched, type BatchedInstitution } from '../../node-agent/train/batched.js';
import { evaluate, selectBackend, trainLocal, type BackendPreference, type TF, type TrainResult } from '../../node-agent/train/index.js';
import { taskOf, type ModelSpec, type NamedTensor, type TrainConfig } from '../../protocol/index.js';
import { prepareData, type Arch, type DatasetChoice } from './dataset.js';
import { federationCohort, type Cohort } from './cohort.js';
import { populationCohort, type PopulationOptions } from './population-cohort.js';

export type { Cohort } from './cohort.js';
export { federationCohort } from './cohort.js';

export interface InProcessOptions {
  dataset: DatasetChoice;
  model: Arch;
  /** The federation's institutions (ignored with `population`). */
  institutions: number;
  partition: PartitionScheme;
  /** Share C of the institutions sampled each round: max(minParticipants, ceil(C·K)), as the coordinator selects. */
  fraction: number;
  /** The coordinator's minimum per round (default 1). */
  minParticipants?: number;
  rounds: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  backend: BackendPreference;
  /** Share of each institution's rows it keeps for validation and never trains on, as an agent does (default 0.1, the agents'). */
  valFraction?: number;
  /** Aggregation strategy by name (default fedavg) and its parameters, the coordinator's own functions. */
  strategy?: string;
  strategyParams?: StrategyParams;
  /** 'batched' (default): the sampled institutions in one computation per step; 'sequential': trainLocal one at a time (the agents' path). */
  trainer?: 'batched' | 'sequential';
  /** Institutions trained together per batched computation; their updates are folded into the round's sum after each group (default 100). */
  group?: number;
  /** A virtual population instead of the federation's institutions (population-cohort.ts). */
  population?: PopulationOptions;
  /** Evaluate the global model on the test set after the last round (default true); false when only timing matters. */
  evaluate?: boolean;
  /** Evaluate it after every round too (default false). */
  evaluateEachRound?: boolean;
}

export interface InProcessRound {
  round: number;
  institutions: number[];
  /** Rows trained on, summed over the round's institutions. */
  trainSamples: number;
  /** Samples trained: rows × local epochs. */
  samples: number;
  seconds: number;
  cpuSeconds: number;
  meanTrainLoss: number;
  /** The global model on the test set after this round (evaluateEachRound). */
  test?: { accuracy: number; loss: number };
}

export interface InProcessResult {
  backend: string;
  spec: ModelSpec;
  rounds: InProcessRound[];
  weights: NamedTensor[];
  /** The held-out test rows the reports evaluate on. */
  testSet: Dataset;
  final?: { accuracy: number; loss: number };
}

/** One group's local training, batched or one at a time. */
async function trainGroup(
  tf: TF,
  spec: ModelSpec,
  global: NamedTensor[],
  group: BatchedInstitution[],
  opts: InProcessOptions,
): Promise<TrainResult[]> {
  const config: TrainConfig = { localEpochs: opts.localEpochs, batchSize: opts.batchSize, learningRate: opts.learningRate };
  if ((opts.trainer ?? 'batched') === 'batched')
    return trainBatched({ tf, spec, weights: global, institutions: group, config, valFraction: 0 });
  const out: TrainResult[] = [];
  for (const inst of group)
    out.push(await trainLocal({ tf, spec, weights: global, data: inst.data, config, valFraction: 0, seed: inst.seed }));
  return out;
}

/** One round: the picked institutions trained group by group, each group's updates folded into the strategy's running aggregate. */
async function trainRound(
  tf: TF,
  spec: ModelSpec,
  cohort: Cohort,
  global: NamedTensor[],
  picked: number[],
  round: number,
  acc: Accumulator,
  opts: InProcessOptions,
): Promise<{ trainSamples: number; lossSum: number }> {
  const size = opts.group ?? 100;
  let [trainSamples, lossSum] = [0, 0];
  for (let start = 0; start < picked.length; start += size) {
    const group = picked.slice(start, start + size).map((i) => cohort.institution(i, round));
    for (const r of await trainGroup(tf, spec, global, group, opts)) {
      acc.add(
        r.weights.map((t) => t.data),
        r.trainSamples,
      );
      trainSamples += r.trainSamples;
      lossSum += r.metrics.trainLoss;
    }
  }
  return { trainSamples, lossSum };
}

/**
 * Runs FedAvg-style rounds in this process: the data prepared as `cohort simulate` prepares it (same test split and
 * partition for the same seed), the institutions the coordinator would select, each trained on the rows its agent
 * would train on with its agent's seed, by the batched trainer (equal to trainLocal per institution within float
 * tolerance), aggregated by the coordinator's strategy weighted by samples. No consent, signatures, privacy or policy
 * for the federation's institutions: it measures and explores training, it does not run a study.
 * @example const r = await runInProcess({ dataset: { kind: 'mnist-full' }, model: 'mlp', institutions: 100, partition: { kind: 'iid' }, fraction: 0.1, rounds: 2, localEpochs: 5, batchSize: 10, learningRate: 0.05, seed: 0, backend: 'wasm' });
 */
export async function runInProcess(opts: InProcessOptions, onRound?: (r: InProcessRound) => void): Promise<InProcessResult> {
  const { tf, name } = await selectBackend(opts.backend);
  // A population draws its institutions' rows from the shared training rows: the data set is prepared once, for one site.
  const data = prepareData(opts.dataset, opts.model, opts.population ? 1 : opts.institutions, opts.partition, opts.seed);
  if (taskOf(data.spec) !== 'classification')
    throw new Error(
      `in-process simulation trains classification models only (softmax, cross-entropy); this data's task is ${taskOf(data.spec)}`,
    );
  const cohort = opts.population ? populationCohort(data, opts.population, opts.seed) : federationCohort(data, opts);
  const strategy = createStrategy(opts.strategy ?? 'fedavg', opts.strategyParams ?? {});
  const testSet = selectRows(data.all, data.test);
  const test = async (weights: NamedTensor[]) => {
    const v = await evaluate({ tf, spec: data.spec, weights, data: testSet });
    return { accuracy: v.accuracy, loss: v.loss };
  };
  let global = initialWeights(data.spec, opts.seed);
  const rounds: InProcessRound[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const [start, cpu] = [performance.now(), process.cpuUsage()];
    const picked = cohort.pick(round);
    const acc = strategy.begin(
      global.map((t) => t.shape),
      global.map((t) => t.data),
    );
    const { trainSamples, lossSum } = await trainRound(tf, data.spec, cohort, global, picked, round, acc, opts);
    const next = acc.result();
    if (next) global = global.map((t, i) => ({ ...t, data: next[i] as Float32Array }));
    const used = process.cpuUsage(cpu);
    const row: InProcessRound = {
      round,
      institutions: picked,
      trainSamples,
      samples: trainSamples * opts.localEpochs,
      seconds: (performance.now() - start) / 1000,
      cpuSeconds: (used.user + used.system) / 1e6,
      meanTrainLoss: lossSum / picked.length,
      ...(opts.evaluateEachRound ? { test: await test(global) } : {}),
    };
    rounds.push(row);
    onRound?.(row);
  }
  const result: InProcessResult = { backend: name, spec: data.spec, rounds, weights: global, testSet };
  if (opts.evaluate ?? true) result.final = rounds.at(-1)?.test ?? (await test(global));
  return result;
}
