/** One measured run of the simulation bench in its own process (tfjs holds one backend per process): in-process batched or sequential, or the real federation. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInProcess } from '../simulate/in-process.js';
import type { Arch } from '../simulate/dataset.js';

export type SimulationPath = 'batched' | 'sequential' | 'federation';

/** What the section asks a child to run: McMahan's IID experiment, `rounds` rounds of `path`. */
export interface SimulationPlan {
  path: SimulationPath;
  model: Arch;
  rounds: number;
  /** Institutions sampled per round = round(fraction · 100). */
  fraction: number;
  backend: 'wasm' | 'cpu';
  /** Local epochs E: the experiment's 5 (quick mode: 1). */
  epochs: number;
}

export interface SimulationMeasure {
  path: SimulationPath | 'pytorch';
  model: Arch;
  backend: string;
  rounds: number;
  /** Samples trained: rows × local epochs, summed over the sampled institutions and rounds. */
  samples: number;
  /** CPU time (user + system) of this process over the rounds; for the federation, the whole run (agents are its worker threads). */
  cpuSeconds: number;
  secondsPerRound: number;
  samplesPerCpuSec: number;
  accuracy: number | null;
}

const EXPERIMENT = { institutions: 100, localEpochs: 5, batchSize: 10, learningRate: 0.05, seed: 0 } as const;

/** The in-process path: rounds timed by runInProcess itself (data preparation excluded). */
async function inProcess(plan: SimulationPlan): Promise<SimulationMeasure> {
  const r = await runInProcess({
    ...EXPERIMENT,
    localEpochs: plan.epochs,
    dataset: { kind: 'mnist-full' },
    model: plan.model,
    partition: { kind: 'iid' },
    fraction: plan.fraction,
    rounds: plan.rounds,
    backend: plan.backend,
    trainer: plan.path as 'batched' | 'sequential',
    valFraction: 0, // McMahan's 600 training digits per institution
    evaluate: false,
  });
  const samples = r.rounds.reduce((n, x) => n + x.samples, 0);
  const cpuSeconds = r.rounds.reduce((n, x) => n + x.cpuSeconds, 0);
  const seconds = r.rounds.reduce((n, x) => n + x.seconds, 0);
  return {
    path: plan.path,
    model: plan.model,
    backend: r.backend,
    rounds: plan.rounds,
    samples,
    cpuSeconds,
    secondsPerRound: seconds / plan.rounds,
    samplesPerCpuSec: samples / cpuSeconds,
    accuracy: null,
  };
}

/** The real federation (`cohort simulate`): coordinator, 100 agents in 2 worker threads of this process, loopback sockets, per-round test evaluation. */
async function federation(plan: SimulationPlan): Promise<SimulationMeasure> {
  const { simulate } = await import('../simulate/run.js');
  const out = mkdtempSync(join(tmpdir(), 'cohort-bench-simulation-'));
  const cpu = process.cpuUsage();
  try {
    const summary = await simulate({
      ...EXPERIMENT,
      localEpochs: plan.epochs,
      rounds: plan.rounds,
      dataset: { kind: 'mnist-full' },
      partition: { kind: 'iid' },
      partitionText: 'iid',
      model: plan.model,
      fraction: plan.fraction,
      minParticipants: Math.max(1, Math.round(plan.fraction * EXPERIMENT.institutions)),
      centralized: false,
      backend: plan.backend,
      roundTimeoutMs: 3_600_000,
      strategy: 'fedavg',
      strategyParams: {},
      revoke: [],
      workers: 2,
      out,
      out_stream: { write: () => true } as unknown as NodeJS.WritableStream,
    });
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const samples = summary.rounds.reduce((n, r) => n + (r.samples ?? 0), 0) * plan.epochs; // RoundRow.samples: training rows behind the aggregate
    const seconds = summary.rounds.reduce((n, r) => n + (r.durationMs ?? 0), 0) / 1000;
    return {
      path: 'federation',
      model: plan.model,
      backend: summary.runtime.backend,
      rounds: plan.rounds,
      samples,
      cpuSeconds,
      secondsPerRound: seconds / plan.rounds,
      samplesPerCpuSec: samples / cpuSeconds,
      accuracy: summary.final.accuracy ?? null,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * Runs one plan and returns its measure.
 * @example const m = await measureSimulation({ path: 'batched', model: 'mlp', rounds: 1, fraction: 0.1, backend: 'wasm', epochs: 5 });
 */
export function measureSimulation(plan: SimulationPlan): Promise<SimulationMeasure> {
  return plan.path === 'federation' ? federation(plan) : inProcess(plan);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await measureSimulation(JSON.parse(process.argv[2] as string) as SimulationPlan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0); // the federation's worker threads and sockets are done; do not wait for their handles
}
