/** A federated simulation in one process, no coordinator server, agents or sockets: sampled institutions trained by the batched trainer, FedAvg by the coordinator's strategy. */
import { createPrng } from '../../crypto/prng.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { fedAvg } from '../../coordinator/strategies/index.js';
import { selectRows, type PartitionScheme } from '../../node-agent/data/index.js';
import { trainBatched } from '../../node-agent/train/batched.js';
import { evaluate, selectBackend, trainLocal, type BackendPreference, type TF, type TrainResult } from '../../node-agent/train/index.js';
import type { NamedTensor, TrainConfig } from '../../protocol/index.js';
import { prepareData, type Arch, type DatasetChoice, type SimulationData } from './dataset.js';

export interface InProcessOptions {
  dataset: DatasetChoice;
  model: Arch;
  institutions: number;
  partition: PartitionScheme;
  /** Share C of the institutions sampled each round (at least one). */
  fraction: number;
  rounds: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  backend: BackendPreference;
  /** 'batched' (default): every sampled institution in one computation per step; 'sequential': trainLocal one at a time (the agents' path). */
  trainer?: 'batched' | 'sequential';
  /** Evaluate the global model on the test set after the last round (default true); false when only timing matters. */
  evaluate?: boolean;
}

export interface InProcessRound {
  round: number;
  institutions: number[];
  samples: number;
  seconds: number;
  cpuSeconds: number;
  meanTrainLoss: number;
}

export interface InProcessResult {
  backend: string;
  rounds: InProcessRound[];
  weights: NamedTensor[];
  final?: { accuracy: number; loss: number };
}

/** The institutions sampled in a round: a seeded shuffle, the first max(1, round(C·K)); deterministic per (seed, round). */
export function sampleInstitutions(institutions: number, fraction: number, seed: number, round: number): number[] {
  const m = Math.max(1, Math.round(fraction * institutions));
  return createPrng(seed * 7919 + round)
    .shuffle(Array.from({ length: institutions }, (_, i) => i))
    .slice(0, m)
    .sort((a, b) => a - b);
}

/** The seed an institution's local training gets in a round (the agents' scheme: site seed · 100,003 + round). */
const trainSeed = (seed: number, institution: number, round: number): number => (seed + institution + 1) * 100_003 + round;

/** One round's local training of the sampled institutions, batched or one at a time. */
async function trainRound(
  tf: TF,
  data: SimulationData,
  global: NamedTensor[],
  picked: number[],
  round: number,
  opts: InProcessOptions,
): Promise<TrainResult[]> {
  const config: TrainConfig = { localEpochs: opts.localEpochs, batchSize: opts.batchSize, learningRate: opts.learningRate };
  const institutions = picked.map((i) => ({ data: selectRows(data.all, data.sites[i] as number[]), seed: trainSeed(opts.seed, i, round) }));
  if ((opts.trainer ?? 'batched') === 'batched')
    return trainBatched({ tf, spec: data.spec, weights: global, institutions, config, valFraction: 0 });
  const out: TrainResult[] = [];
  for (const inst of institutions)
    out.push(await trainLocal({ tf, spec: data.spec, weights: global, data: inst.data, config, valFraction: 0, seed: inst.seed }));
  return out;
}

/** FedAvg of the round's updates weighted by training samples, with the coordinator's strategy. */
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
  const next = acc.result();
  return next ? global.map((t, i) => ({ ...t, data: next[i] as Float32Array })) : global;
}

/**
 * Runs McMahan-style FedAvg rounds in this process: the data prepared as `cohort simulate` prepares it (same test
 * split and partition for the same seed), C·K institutions sampled per round, their local training by the batched
 * trainer (equal to trainLocal per institution within float tolerance), FedAvg weighted by samples. No consent,
 * signatures, privacy or policy: it measures and explores training, it does not run a study.
 * @example const r = await runInProcess({ dataset: { kind: 'mnist-full' }, model: 'mlp', institutions: 100, partition: { kind: 'iid' }, fraction: 0.1, rounds: 2, localEpochs: 5, batchSize: 10, learningRate: 0.05, seed: 0, backend: 'wasm' });
 */
export async function runInProcess(opts: InProcessOptions, onRound?: (r: InProcessRound) => void): Promise<InProcessResult> {
  const { tf, name } = await selectBackend(opts.backend);
  const data = prepareData(opts.dataset, opts.model, opts.institutions, opts.partition, opts.seed);
  let global = initialWeights(data.spec, opts.seed);
  const rounds: InProcessRound[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const picked = sampleInstitutions(opts.institutions, opts.fraction, opts.seed, round);
    const [start, cpu] = [performance.now(), process.cpuUsage()];
    const results = await trainRound(tf, data, global, picked, round, opts);
    global = aggregate(global, results);
    const used = process.cpuUsage(cpu);
    const row: InProcessRound = {
      round,
      institutions: picked,
      samples: results.reduce((n, r) => n + r.trainSamples * opts.localEpochs, 0),
      seconds: (performance.now() - start) / 1000,
      cpuSeconds: (used.user + used.system) / 1e6,
      meanTrainLoss: results.reduce((s, r) => s + r.metrics.trainLoss, 0) / results.length,
    };
    rounds.push(row);
    onRound?.(row);
  }
  const result: InProcessResult = { backend: name, rounds, weights: global };
  if (opts.evaluate ?? true) {
    const v = await evaluate({ tf, spec: data.spec, weights: global, data: selectRows(data.all, data.test) });
    result.final = { accuracy: v.accuracy, loss: v.loss };
  }
  return result;
}
