/** Bench section `training`: local-training samples/s of the 2NN and the CNN on every TF.js backend that loads here, against the pure-JS cpu backend. */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BackendName } from '../../node-agent/train/index.js';
import type { BenchRow, BenchSection } from './section.js';
import { fmtSpread, spread, spreadValues, type Spread } from './stats.js';
import type { TrainingModel, TrainingPlan, TrainingResult } from './training-worker.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./training-worker.ts', import.meta.url));
const BACKENDS: BackendName[] = ['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'];
const NATIVE: Partial<Record<BackendName, string>> = { tensorflow: '@tensorflow/tfjs-node', 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu' };
const MODELS: TrainingModel[] = ['mlp', 'cnn'];
const LABEL: Record<TrainingModel, string> = { mlp: '2NN (MLP 784-200-200-10)', cnn: 'CNN (McMahan et al. 2017)' };
/** The wasm backend must train the CNN at least this many times faster than the cpu backend. */
const TARGET_CNN_RATIO = 20;

/** True when the backend's package resolves here (wasm and cpu ship with the project). */
function installed(backend: BackendName): boolean {
  const pkg = NATIVE[backend];
  if (!pkg) return true;
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * What one child trains: batch 10 as `cohort simulate` does. The cpu backend needs tens of seconds per CNN
 * batch, so it gets one timed batch (quick: one digit) where the others get seconds of batches.
 */
function plansFor(backend: BackendName, quick: boolean): TrainingPlan[] {
  const slowCnn = backend === 'cpu';
  return MODELS.map((model) => {
    if (model === 'mlp')
      return { model, batchSize: 10, warmupBatches: quick ? 2 : 5, maxBatches: quick ? 30 : 1000, capMs: quick ? 1000 : 3000 };
    if (slowCnn) return { model, batchSize: quick ? 1 : 10, warmupBatches: 0, maxBatches: 1, capMs: 0 };
    return { model, batchSize: 10, warmupBatches: quick ? 1 : 3, maxBatches: quick ? 10 : 200, capMs: quick ? 1500 : 5000 };
  });
}

/** Trains every model on one backend in a fresh child process (tfjs holds one global backend per process). */
async function measure(backend: BackendName, quick: boolean): Promise<TrainingResult[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', WORKER, backend, JSON.stringify(plansFor(backend, quick))], {
    maxBuffer: 1 << 20,
    timeout: 15 * 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as TrainingResult[];
}

/**
 * Runs the backends round-robin (quick: 1 run, else 5), each run a fresh child per backend training the 2NN and the
 * CNN on real MNIST batches, and reports samples/s as median (min–max) with each backend's speed-up over cpu in the
 * same runs; the target is wasm >= 20x cpu on the CNN.
 * @example const result = await trainingSection.run({ quick: true, outDir, log: console.error });
 */
export const trainingSection: BenchSection = {
  id: 'training',
  title: 'Local training throughput per TF.js backend',
  async run(ctx) {
    const runs = ctx.quick ? 1 : 5;
    const available = BACKENDS.filter(installed);
    const samples = new Map<string, TrainingResult[]>();
    const key = (backend: BackendName, model: TrainingModel) => `${backend}/${model}`;
    for (let r = 0; r < runs; r++) {
      for (const backend of available) {
        ctx.log(`training: run ${r + 1}/${runs}, ${backend}`);
        for (const result of await measure(backend, ctx.quick)) {
          const list = samples.get(key(backend, result.model)) ?? [];
          list.push(result);
          samples.set(key(backend, result.model), list);
        }
      }
    }
    type Rate = 'samplesPerSec' | 'samplesPerCpuSec';
    const perSec = (backend: BackendName, model: TrainingModel, rate: Rate = 'samplesPerSec'): number[] =>
      (samples.get(key(backend, model)) ?? []).map((s) => s[rate]);
    /** Per-run ratio against cpu: the same run index, so load from elsewhere hits both sides alike. */
    const ratio = (backend: BackendName, model: TrainingModel, rate: Rate = 'samplesPerSec'): Spread => {
      const cpu = perSec('cpu', model, rate);
      return spread(perSec(backend, model, rate).map((v, i) => v / (cpu[i] as number)));
    };

    const rows: BenchRow[] = [];
    for (const model of MODELS) {
      for (const backend of BACKENDS) {
        if (!available.includes(backend)) {
          rows.push({ cells: [backend, LABEL[model], '-', 'not installed', '-', '-', '-'], values: { backend, model, installed: false } });
          continue;
        }
        const measured = samples.get(key(backend, model)) ?? [];
        const s = spread(perSec(backend, model));
        const c = spread(perSec(backend, model, 'samplesPerCpuSec'));
        const vsCpu = ratio(backend, model);
        const vsCpuTime = ratio(backend, model, 'samplesPerCpuSec');
        const batch = measured[0]?.batchSize ?? 0;
        const base = backend === 'cpu';
        rows.push({
          cells: [
            backend,
            LABEL[model],
            String(batch),
            fmtSpread(s, s.median < 10 ? 2 : 0),
            base ? '1 (baseline)' : fmtSpread(vsCpu, 1),
            fmtSpread(c, c.median < 10 ? 2 : 0),
            base ? '1 (baseline)' : fmtSpread(vsCpuTime, 1),
          ],
          values: {
            backend,
            model,
            installed: true,
            batchSize: batch,
            params: measured[0]?.params ?? null,
            runs: s.n,
            ...spreadValues('samplesPerSec', s),
            ...spreadValues('vsCpu', vsCpu),
            ...spreadValues('samplesPerCpuSec', c),
            ...spreadValues('vsCpuCpuTime', vsCpuTime),
          },
        });
      }
    }

    const cnn = ratio('wasm', 'cnn');
    const flavour = samples.get(key('wasm', 'mlp'))?.[0]?.wasmFlavour ?? 'n/a';
    const cpuCnn = samples.get(key('cpu', 'cnn'))?.[0];
    return {
      title: 'Local training throughput per TF.js backend',
      columns: [
        'backend',
        'model',
        'batch',
        'samples/s median (min–max)',
        'x cpu (same runs)',
        'samples per CPU-second',
        'x cpu (CPU time)',
      ],
      rows,
      notes: [
        `${runs} run(s), round-robin; each run trains each model in a fresh child process per backend on real shuffled MNIST batches with SGD (lr 0.05), timed after ${ctx.quick ? '1-2' : '3-5'} uncounted warm-up batches (cpu CNN: none).`,
        "samples/s is wall time; samples per CPU-second divides by the child's own CPU time (both backends run on one thread), so it moves less when other work shares the cores.",
        `Caps: 2NN ${ctx.quick ? '1' : '3'} s, CNN ${ctx.quick ? '1.5' : '5'} s per run; the cpu backend's CNN is timed on one batch of ${cpuCnn?.batchSize ?? '?'} digits per run${ctx.quick ? ' (quick mode; not comparable)' : ''}.`,
        `Target: the McMahan CNN trains >= ${TARGET_CNN_RATIO}x faster on wasm than on cpu: ${cnn.median >= TARGET_CNN_RATIO ? 'met' : 'MISSED'} (wall time ${fmtSpread(cnn, 1)}x, CPU time ${fmtSpread(ratio('wasm', 'cnn', 'samplesPerCpuSec'), 1)}x). wasm runs its ${flavour} binary; Conv2DBackpropFilter is Cohort's kernel (node-agent/train/wasm-grad-kernels.ts).`,
        ...BACKENDS.filter((b) => !available.includes(b)).map((b) => `${b}: not installed (${NATIVE[b]}).`),
      ],
    };
  },
};
