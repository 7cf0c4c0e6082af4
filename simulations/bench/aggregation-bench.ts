/** Bench section `aggregation`: the real FedAvg over N streamed 1M-parameter updates against a memory copy, Flower's aggregate() in JS, and numpy. */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchRow, BenchSection } from './section.js';
import { fmtSpread, spread, spreadValues, type Spread } from './stats.js';
import type { WorkerResult } from './aggregation-worker.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./aggregation-worker.ts', import.meta.url));
const NUMPY = fileURLToPath(new URL('./aggregation-numpy.py', import.meta.url));
const TARGET_GBPS = 1.5;
const TARGET_VS_FLOWER = 5;
const TARGET_MODELS = 3;

/** True when `python3 -c 'import numpy'` succeeds. */
function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

interface Variant {
  id: string;
  label: string;
  /** Runs this variant in a fresh child process. */
  spawn(n: number, params: number, seed: number): Promise<WorkerResult>;
  /** The idle variant whose peak RSS is this one's constant. */
  idle: string;
}

const parseLast = (stdout: string): WorkerResult => JSON.parse(stdout.trim().split('\n').at(-1) as string) as WorkerResult;
const jsVariant = (id: string, label: string): Variant => ({
  id,
  label,
  idle: 'idle',
  spawn: async (n, params, seed) =>
    parseLast(
      (await run(process.execPath, ['--import', 'tsx', WORKER, id, String(n), String(params), String(seed)], { maxBuffer: 1 << 20 }))
        .stdout,
    ),
});
const npVariant = (id: string, label: string): Variant => ({
  id: `numpy-${id}`,
  label,
  idle: 'numpy-idle',
  spawn: async (n, params, seed) =>
    parseLast((await run('python3', [NUMPY, id, String(n), String(params), String(seed)], { maxBuffer: 1 << 20 })).stdout),
});

interface Measured {
  gbps: Spread;
  ms: Spread;
  extraMiB: Spread;
  models: Spread;
  vsFedavg: Spread;
}

/**
 * FedAvg (coordinator/strategies/fedavg.ts) against its baselines, each variant in its own child process
 * so its peak RSS (process.resourceUsage().maxRSS, Python's ru_maxrss) is its own; runs are round-robin.
 * @example const result = await aggregationSection.run({ quick: true, outDir, log: console.error });
 */
export const aggregationSection: BenchSection = {
  id: 'aggregation',
  title: 'Aggregation: FedAvg over N updates of a 1M-parameter model',
  async run(ctx) {
    const params = ctx.quick ? 100_000 : 1_000_000;
    const counts = ctx.quick ? [10] : [10, 100, 1000];
    const repsFor = (n: number): number => (ctx.quick ? 2 : n >= 1000 ? 3 : 5);
    const numpy = hasNumpy();
    const variants: Variant[] = [
      jsVariant('idle', 'generation only (constant)'),
      jsVariant('copy', 'memory copy into a touched buffer (limit)'),
      jsVariant('fedavg', 'Cohort FedAvg (running float64 sum)'),
      jsVariant('flower', "Flower's aggregate() in JS"),
    ];
    if (numpy)
      variants.push(
        npVariant('idle', 'numpy generation only (constant)'),
        npVariant('flower', "Flower's aggregate() in numpy"),
        npVariant('running', 'numpy running float64 sum'),
      );
    const modelBytes = params * 4;
    const rows: BenchRow[] = [];
    const summary = new Map<string, Measured>();
    for (const n of counts) {
      const reps = repsFor(n);
      const samples = new Map<string, WorkerResult[]>(variants.map((v) => [v.id, []]));
      for (let r = 0; r < reps; r++) {
        ctx.log(`N=${n}, run ${r + 1}/${reps}: ${variants.map((v) => v.id).join(', ')}`);
        for (const v of variants) samples.get(v.id)!.push(await v.spawn(n, params, r + 1));
      }
      const bytes = n * modelBytes;
      for (const v of variants) {
        if (v.id.endsWith('idle')) continue;
        const runs = samples.get(v.id)!;
        const idle = samples.get(v.idle)!;
        const fedavg = samples.get('fedavg')!;
        const gbps = spread(runs.map((x) => bytes / 1e9 / (x.aggregateMs / 1000)));
        const extra = runs.map((x, i) => (x.maxRssKiB - (idle[i] as WorkerResult).maxRssKiB) / 1024);
        const m: Measured = {
          gbps,
          ms: spread(runs.map((x) => x.aggregateMs)),
          extraMiB: spread(extra),
          models: spread(extra.map((e) => (e * 1024 * 1024) / modelBytes)),
          // Paired per run: the same seed and the same moment of machine load.
          vsFedavg: spread(runs.map((x, i) => (x.aggregateMs > 0 ? (fedavg[i] as WorkerResult).aggregateMs / x.aggregateMs : Number.NaN))),
        };
        summary.set(`${v.id}@${n}`, m);
        rows.push({
          cells: [
            String(n),
            v.label,
            fmtSpread(m.ms, 0),
            fmtSpread(gbps, 2),
            fmtSpread(m.vsFedavg, 2),
            fmtSpread(m.extraMiB, 1),
            fmtSpread(m.models, 1),
          ],
          values: {
            n,
            params,
            variant: v.id,
            runs: runs.length,
            ...spreadValues('ms', m.ms),
            ...spreadValues('gbps', gbps),
            ...spreadValues('speedVsFedavg', m.vsFedavg),
            ...spreadValues('extraMiB', m.extraMiB),
            ...spreadValues('models', m.models),
          },
        });
      }
    }
    const notes = [
      `P = ${params.toLocaleString('en')} float32 parameters (${(modelBytes / 1e6).toFixed(1)} MB per update) in 4 layers; N updates are generated one at a time into one reused buffer (a PRNG rotation of a random model, with a PRNG sample count), as the coordinator receives them; generation is not timed. GB/s = N x ${(modelBytes / 1e6).toFixed(1)} MB / aggregation time (10^9 bytes).`,
      `Each figure is the median (min–max) of ${counts.map((n) => `${repsFor(n)} runs at N=${n}`).join(', ')}; every run of every variant is a fresh child process, variants round-robin within a run. "speed / FedAvg" = this variant's speed divided by FedAvg's in the same run, paired run by run (< 1: slower than FedAvg).`,
      `Peak memory: child process max RSS (process.resourceUsage().maxRSS; Python: resource.getrusage ru_maxrss) minus that of the "generation only" child of the same run (which holds the runtime, the current global model and the update buffer); "models" = that difference / ${(modelBytes / 1e6).toFixed(1)} MB.`,
      numpy
        ? "numpy: the same generation scheme in Python (numpy default_rng), Flower's aggregate() verbatim (scaled copies of every update, then reduce(np.add)) and a float64 running sum (acc += layer * w)."
        : 'numpy comparison skipped: python3 with numpy is not available here.',
    ];
    const last = counts.at(-1) as number;
    const fed = summary.get(`fedavg@${last}`);
    const flower = summary.get(`flower@${last}`);
    const copy = summary.get(`copy@${last}`);
    if (fed && flower && copy) {
      const speedup = 1 / flower.vsFedavg.median;
      const medians = counts.map((n) => summary.get(`fedavg@${n}`)?.models.median ?? Number.NaN);
      const maxModels = Math.max(...medians);
      notes.push(
        `Target >= ${TARGET_GBPS} GB/s on one core: FedAvg ${fed.gbps.median.toFixed(2)} GB/s at N=${last}, ${fed.gbps.median >= TARGET_GBPS ? 'met' : `missed by ${(TARGET_GBPS - fed.gbps.median).toFixed(2)} GB/s`}.`,
        `Target >= ${TARGET_VS_FLOWER}x Flower's algorithm (JS): ${speedup.toFixed(1)}x at N=${last}, ${speedup >= TARGET_VS_FLOWER ? 'met' : 'missed'}.`,
        `Target peak memory independent of N, <= ${TARGET_MODELS} models plus a constant: FedAvg's extra is ${medians.map((m, i) => `${m.toFixed(1)} at N=${counts[i]}`).join(', ')} (medians; ${maxModels <= TARGET_MODELS + 0.25 ? 'met' : `missed by ${(maxModels - TARGET_MODELS).toFixed(1)} models`}; RSS is read in 4 KiB pages and moves by about a model between runs: see the spread); Flower's grows with N: ${flower.models.median.toFixed(0)} models at N=${last}).`,
        `Memory-copy limit: ${copy.gbps.median.toFixed(1)} GB/s; FedAvg runs at ${((fed.gbps.median / copy.gbps.median) * 100).toFixed(0)}% of it (it reads 4 bytes and reads and writes 8 bytes of float64 sum per parameter, a copy only reads 4 and writes 4).`,
      );
    }
    return {
      title: 'Aggregation: FedAvg over N updates of a 1M-parameter model',
      columns: ['N', 'variant', 'ms', 'GB/s', 'speed / FedAvg', 'peak extra MiB', 'models'],
      rows,
      notes,
    };
  },
};
