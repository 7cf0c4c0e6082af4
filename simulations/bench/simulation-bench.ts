/** Bench section `simulation`: McMahan's IID FedAvg experiment through Cohort's in-process batched path, its per-institution path and the real federation, against PyTorch in-process. */
import { execFile, execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mnistFullFiles } from '../../node-agent/data/index.js';
import type { BenchRow, BenchSection } from './section.js';
import type { SimulationMeasure, SimulationPath, SimulationPlan } from './simulation-worker.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./simulation-worker.ts', import.meta.url));
const TORCH = fileURLToPath(new URL('./simulation-torch.py', import.meta.url));
/** Debian's interpreter first (python3-torch installs there), then whatever `python3` is on the PATH. */
const PYTHONS = ['/usr/bin/python3', 'python3'];
type Model = 'mlp' | 'cnn';
type Path = SimulationPath | 'pytorch';
const MODELS: Model[] = ['mlp', 'cnn'];
const LABEL: Record<Model, string> = { mlp: '2NN', cnn: 'CNN' };
const PATH_LABEL: Record<Path, string> = {
  batched: 'Cohort in-process, batched (trainBatched)',
  sequential: 'Cohort in-process, one institution at a time (trainLocal)',
  federation: 'Cohort real federation (coordinator, agents, sockets)',
  pytorch: 'PyTorch in-process (1 thread)',
};

/** The interpreter whose `import torch` works, or undefined. */
function torchPython(): string | undefined {
  for (const python of PYTHONS) {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return python;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Fraction C per path: the experiment's 0.1, except where one round of it would take many minutes (noted in the table). */
function fractionFor(model: Model, path: Path, quick: boolean): number {
  if (quick) return model === 'cnn' ? 0.01 : 0.02;
  return model === 'cnn' && (path === 'sequential' || path === 'federation') ? 0.02 : 0.1;
}

async function runCohort(plan: SimulationPlan): Promise<SimulationMeasure> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(plan)], {
    maxBuffer: 1 << 22,
    timeout: 60 * 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as SimulationMeasure;
}

async function runTorch(python: string, model: Model, rounds: number, fraction: number, epochs: number): Promise<SimulationMeasure> {
  const files = mnistFullFiles();
  const { stdout } = await run(
    python,
    [TORCH, model, String(rounds), files.trainImages, files.trainLabels, '100', String(fraction), String(epochs), '10', '0.05', '0'],
    { maxBuffer: 1 << 22, timeout: 60 * 60_000 },
  );
  const last = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
    samples: number;
    cpuSeconds: number;
    secondsPerRound: number;
    samplesPerCpuSec: number;
    torch: string;
  };
  return {
    path: 'pytorch',
    model,
    backend: `torch ${last.torch}`,
    rounds,
    samples: last.samples,
    cpuSeconds: last.cpuSeconds,
    secondsPerRound: last.secondsPerRound,
    samplesPerCpuSec: last.samplesPerCpuSec,
    accuracy: null,
  };
}

interface Measured {
  model: Model;
  path: Path;
  fraction: number;
  load: number;
  m: SimulationMeasure;
}

/**
 * Runs the experiment (100 institutions x 600 mnist-full digits, IID, E = 5, B = 10, lr 0.05, FedAvg by samples) for
 * `ctx.rounds` rounds (default 1) per model and path, each in a fresh process, and reports samples trained per
 * CPU-second, seconds per round, the 1-minute load average at the start of each run, and Cohort's batched path over
 * PyTorch's in `summary.ratioVsPytorch`.
 * @example const result = await simulationSection.run({ quick: true, outDir, log: console.error });
 */
export const simulationSection: BenchSection = {
  id: 'simulation',
  title: 'Federated simulation throughput: Cohort against PyTorch in-process',
  async run(ctx) {
    const rounds = ctx.rounds ?? 1;
    const python = torchPython();
    const epochs = ctx.quick ? 1 : 5;
    const measured: Measured[] = [];
    for (const model of MODELS) {
      const paths: Path[] = [
        'batched',
        'sequential',
        ...(ctx.quick ? [] : (['federation'] as Path[])),
        ...(python ? (['pytorch'] as Path[]) : []),
      ];
      for (const path of paths) {
        const fraction = fractionFor(model, path, ctx.quick);
        const load = loadavg()[0] as number;
        ctx.log(`${model} ${path}: ${rounds} round(s), C = ${fraction}, load ${load.toFixed(2)}`);
        const m =
          path === 'pytorch'
            ? await runTorch(python as string, model, rounds, fraction, epochs)
            : await runCohort({ path, model, rounds, fraction, backend: 'wasm', epochs });
        measured.push({ model, path, fraction, load, m });
      }
    }
    const rate = (model: Model, path: Path): number | null =>
      measured.find((x) => x.model === model && x.path === path)?.m.samplesPerCpuSec ?? null;
    const ratio = (model: Model): number | null => {
      const [ours, theirs] = [rate(model, 'batched'), rate(model, 'pytorch')];
      return ours !== null && theirs !== null ? ours / theirs : null;
    };
    const rows: BenchRow[] = measured.map(({ model, path, fraction, load, m }) => {
      const vsTorch = rate(model, 'pytorch');
      return {
        cells: [
          LABEL[model],
          PATH_LABEL[path],
          String(Math.round(fraction * 100)),
          String(m.rounds),
          m.samplesPerCpuSec.toFixed(0),
          m.secondsPerRound.toFixed(1),
          vsTorch ? (m.samplesPerCpuSec / vsTorch).toFixed(2) : '-',
          load.toFixed(2),
        ],
        values: {
          model,
          path,
          institutionsPerRound: Math.round(fraction * 100),
          rounds: m.rounds,
          samples: m.samples,
          cpuSeconds: m.cpuSeconds,
          samplesPerCpuSec: m.samplesPerCpuSec,
          secondsPerRound: m.secondsPerRound,
          vsPytorch: vsTorch ? m.samplesPerCpuSec / vsTorch : null,
          loadAverage1m: load,
          backend: m.backend,
        },
      };
    });
    const fmt = (r: number | null): string => (r === null ? 'n/a' : r.toFixed(2));
    return {
      title: 'Federated simulation throughput: Cohort against PyTorch in-process',
      columns: [
        'model',
        'path',
        'institutions per round',
        'rounds',
        'samples per CPU-second',
        's per round',
        'x PyTorch',
        'load avg (1 min)',
      ],
      rows,
      notes: [
        `McMahan et al.'s IID experiment: 100 institutions x 600 mnist-full digits, E = ${epochs}, B = 10, lr 0.05, FedAvg weighted by samples; ${rounds} round(s) per path, each path in a fresh process, wasm backend for Cohort.`,
        `simulation.ratioVsPytorch (Cohort batched over PyTorch, samples per CPU-second): 2NN ${fmt(ratio('mlp'))}, CNN ${fmt(ratio('cnn'))}; goal >= 1.0: ${MODELS.map((m) => `${LABEL[m]} ${(ratio(m) ?? 0) >= 1 ? 'met' : 'MISSED'}`).join(', ')}.`,
        "In-process CPU time counts the rounds only (data preparation excluded); the real federation's counts its whole run (coordinator, 100 agents in 2 worker threads, start-up, per-round test evaluation), so its rate is a lower bound.",
        ctx.quick
          ? 'Quick mode: 1-2 institutions per round, E = 1, no real federation; not comparable.'
          : "The CNN's one-at-a-time and federation paths sample 2 institutions per round (C = 0.02) to bound the run; rates per CPU-second do not depend on C.",
        python
          ? `PyTorch: ${python} with torch, torch.set_num_threads(1), the same model shapes, SGD and cross-entropy (simulations/bench/simulation-torch.py).`
          : 'PyTorch comparison skipped: no python3 here can `import torch` (Debian: apt-get install python3-torch).',
      ],
      summary: { ratioVsPytorch: { mlp: ratio('mlp'), cnn: ratio('cnn') }, rounds },
    };
  },
};
