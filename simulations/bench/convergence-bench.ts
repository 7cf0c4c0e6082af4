/** The convergence benchmark: centralized baseline, then FedSGD and FedAvg configurations on IID and shards:2 MNIST, then the report files. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parsePartition, selectRows } from '../../node-agent/data/index.js';
import { selectBackend } from '../../node-agent/train/index.js';
import { parseDataset, prepareData } from '../simulate/dataset.js';
import { trainCentralized } from '../simulate/centralized.js';
import { FULL_BATCH, runConfig, type BenchConfig, type ConfigResult } from './convergence-run.js';
import { runBenchChild } from './bench-child.js';
import { runDirect } from './strategy-direct.js';
import { convergenceMarkdown, convergenceSvg, speedup, type BenchSummary } from './convergence-report.js';

export interface BenchOptions {
  out: string;
  /** The data set, as `--dataset` spells it: mnist-full (the paper's 60,000 training digits), mnist (10,000 digits) or idx:... */
  dataset: string;
  institutions: number;
  fraction: number;
  partitions: string[];
  configs: BenchConfig[];
  /** federation: the real coordinator and agents over loopback; direct: the same maths in-process (identical numbers, no protocol cost). */
  engine: 'federation' | 'direct';
  /** Fixed target accuracy; otherwise baseline − 2 points (rounded down to 0.5%), or none without a baseline. */
  target?: number;
  /** The centralized baseline's training (epochs 0: none). */
  baseline: { epochs: number; batchSize: number; learningRate: number };
  /** Partitions run side by side, one child process each (1: all in this process). */
  jobs: number;
  seed: number;
  command: string;
  say?: (line: string) => void;
}

/**
 * The paper's grid for the 2NN on the full MNIST (100 clients of 600 digits): FedSGD (E=1, full batch) and FedAvg with (E, B) in
 * {(1, 50), (1, 10), (5, 10), (20, 10)}. Learning rates from a sweep on IID data (seed 0, in-process, same maths): FedSGD over
 * {0.5, 1.0} -> 0.5 (1.0 at 85.5% after 59 rounds, 0.5 at 90.9%); E=1 B=50 over {0.2, 0.5} -> 0.5 (95.5% at round 22 against 38);
 * E=1 B=10 over {0.1, 0.2} -> 0.2; E=5 B=10 over {0.2, 0.4} -> 0.2 (95.5% at round 6; 0.4: 95.1% at round 7); E=20 B=10 not swept
 * (a round costs about 90 s here), 0.1. Time caps fit the whole run in under 30 minutes on 2 cores with the partitions side by side.
 */
export const PAPER_CONFIGS: BenchConfig[] = [
  { name: 'FedSGD E=1 B=∞', localEpochs: 1, batchSize: FULL_BATCH, learningRate: 0.5, roundCap: 1000, timeCapS: 630 },
  { name: 'FedAvg E=1 B=50', localEpochs: 1, batchSize: 50, learningRate: 0.5, roundCap: 500, timeCapS: 150 },
  { name: 'FedAvg E=1 B=10', localEpochs: 1, batchSize: 10, learningRate: 0.2, roundCap: 500, timeCapS: 180 },
  { name: 'FedAvg E=5 B=10', localEpochs: 5, batchSize: 10, learningRate: 0.2, roundCap: 300, timeCapS: 300 },
  { name: 'FedAvg E=20 B=10', localEpochs: 20, batchSize: 10, learningRate: 0.1, roundCap: 200, timeCapS: 240 },
];

/**
 * The same grid on the 10,000-digit `mnist` set (100 clients of 80 digits). Learning rates from a sweep on IID data (seed 0):
 * FedSGD over {0.3, 0.5, 0.7, 1.0} -> 0.5 (0.7 is faster to 94-95%, slower to 96%); FedAvg E=5 B=10 over {0.2, 0.4, 0.6, 0.8}
 * -> 0.4; E=1 B=10 over {0.2, 0.5} -> 0.2 (equal to 94%, 0.5 faster to 96%); E=20 B=10 over {0.1, 0.2} -> 0.2.
 */
export const SMALL_CONFIGS: BenchConfig[] = [
  { name: 'FedSGD E=1 B=∞', localEpochs: 1, batchSize: FULL_BATCH, learningRate: 0.5, roundCap: 1000, timeCapS: 330 },
  { name: 'FedAvg E=1 B=50', localEpochs: 1, batchSize: 50, learningRate: 0.5, roundCap: 500, timeCapS: 150 },
  { name: 'FedAvg E=1 B=10', localEpochs: 1, batchSize: 10, learningRate: 0.2, roundCap: 500, timeCapS: 210 },
  { name: 'FedAvg E=5 B=10', localEpochs: 5, batchSize: 10, learningRate: 0.4, roundCap: 300, timeCapS: 300 },
  { name: 'FedAvg E=20 B=10', localEpochs: 20, batchSize: 10, learningRate: 0.2, roundCap: 200, timeCapS: 420 },
];

/** The centralized baseline per data set: the 10,000 digits afford 20 epochs at B=10; the 60,000 need a larger batch to fit the time. */
export const BASELINES: Record<'full' | 'small', BenchOptions['baseline']> = {
  full: { epochs: 5, batchSize: 50, learningRate: 0.1 },
  small: { epochs: 20, batchSize: 10, learningRate: 0.05 },
};

/**
 * Runs the whole benchmark and writes convergence.md, convergence.json and convergence.svg into `opts.out`.
 * @example const summary = await runConvergenceBench({ ...defaults, out: 'runs/bench' })
 */
export async function runConvergenceBench(opts: BenchOptions): Promise<BenchSummary> {
  const started = Date.now();
  const say = opts.say ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const { tf } = await selectBackend('wasm', () => undefined);

  const dataRef = parseDataset(opts.dataset);
  const first = prepareData(dataRef, 'mlp', opts.institutions, parsePartition(opts.partitions[0] ?? 'iid'), opts.seed);
  const testSet = selectRows(first.all, first.test);
  const meanRows = first.train.length / opts.institutions;
  say(
    `Convergence bench on ${opts.dataset}: ${opts.institutions} institutions (${meanRows.toFixed(0)} rows each on average), C = ${opts.fraction}, ${first.test.length} test digits -> ${out}`,
  );

  let baseline: BenchSummary['baseline'];
  let target = opts.target;
  if (opts.baseline.epochs > 0) {
    const b = opts.baseline;
    say(
      `Centralized baseline: 2NN on the ${first.train.length} pooled training digits, ${b.epochs} epochs, B=${b.batchSize}, lr=${b.learningRate} ...`,
    );
    const c = await trainCentralized({ tf, spec: first.spec, all: first.all, train: first.train, testSet, ...b, seed: opts.seed });
    baseline = { accuracy: c.accuracy, ...b };
    say(`Centralized baseline accuracy ${c.accuracy.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    target ??= Math.floor((c.accuracy - 0.02) * 200) / 200;
  }
  say(
    target === undefined
      ? 'No target accuracy (quick mode): the configurations run to their round cap.'
      : `Target accuracy ${(target * 100).toFixed(1)}%`,
  );

  const results: ConfigResult[] = [];
  if (opts.jobs > 1 && opts.partitions.length > 1) {
    const parts = await runPartitionsInChildren(opts, out, target, say);
    for (const p of parts) results.push(...p);
  } else {
    for (const partitionText of opts.partitions) {
      const data =
        partitionText === opts.partitions[0]
          ? first
          : prepareData(dataRef, 'mlp', opts.institutions, parsePartition(partitionText), opts.seed);
      for (const config of opts.configs) {
        say(`[${partitionText} ${config.name}] lr ${config.learningRate}, caps ${config.roundCap} rounds / ${config.timeCapS} s`);
        const r = await (opts.engine === 'direct' ? runDirect : runConfig)({
          tf,
          data,
          testSet,
          config,
          dataRef,
          partition: partitionText,
          fraction: opts.fraction,
          target,
          seed: opts.seed,
          workDir: join(tmpdir(), `cohort-bench-${process.pid}`),
          say,
        });
        results.push(r);
        const reached =
          r.roundsToTarget !== null
            ? `target reached at round ${r.roundsToTarget}`
            : `target not reached (${r.stoppedBy} after ${r.roundsRun} rounds)`;
        say(
          `[${partitionText} ${config.name}] ${reached}, best ${r.bestAccuracy.toFixed(4)} at round ${r.bestRound}, ${(r.wallMs / 1000).toFixed(1)} s`,
        );
      }
    }
  }

  const summary: BenchSummary = {
    target,
    baseline,
    dataset: opts.dataset,
    engine: opts.engine,
    testRows: first.test.length,
    institutions: opts.institutions,
    fraction: opts.fraction,
    meanRows,
    partitions: opts.partitions,
    configs: opts.configs,
    jobs: Math.min(opts.jobs, opts.partitions.length),
    results,
    wallMs: Date.now() - started,
    command: opts.command,
  };
  const sgd = (p: string) => results.find((r) => r.partition === p && r.config.name.startsWith('FedSGD'));
  const json = {
    ...summary,
    speedups: results.map((r) => ({ partition: r.partition, config: r.config.name, ...speedup(r, sgd(r.partition)) })),
  };
  writeFileSync(join(out, 'convergence.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(out, 'convergence.md'), convergenceMarkdown(summary));
  writeFileSync(join(out, 'convergence.svg'), await convergenceSvg(summary));
  say('');
  say(convergenceMarkdown(summary));
  say(
    `Wrote ${join(out, 'convergence.md')}, convergence.json and convergence.svg (wall time ${(summary.wallMs / 60_000).toFixed(1)} min).`,
  );
  return summary;
}

/** Runs each partition in its own process (the same command, one partition, the target fixed), streaming their progress lines. */
async function runPartitionsInChildren(
  opts: BenchOptions,
  out: string,
  target: number | undefined,
  say: (line: string) => void,
): Promise<ConfigResult[][]> {
  return Promise.all(
    opts.partitions.map(async (p) => {
      const dir = join(out, 'partitions', p.replace(/[^A-Za-z0-9_-]/g, '-'));
      const args = [
        '--partitions',
        p,
        '--out',
        dir,
        '--jobs',
        '1',
        '--baseline-epochs',
        '0',
        '--dataset',
        opts.dataset,
        '--institutions',
        String(opts.institutions),
        '--fraction',
        String(opts.fraction),
        '--seed',
        String(opts.seed),
        '--configs',
        JSON.stringify(opts.configs),
        ...(opts.engine === 'direct' ? ['--direct'] : []),
      ];
      if (target !== undefined) args.push('--target', String(target));
      await runBenchChild(args, say, `the ${p} partition's process`);
      const json = JSON.parse(readFileSync(join(dir, 'convergence.json'), 'utf8')) as { results: ConfigResult[] };
      return json.results;
    }),
  );
}
