/** `npm run bench:convergence`: McMahan et al. 2017's FedAvg vs FedSGD comparison (rounds to a target accuracy) on our MNIST digits. */
import { Command, InvalidArgumentError } from 'commander';
import { BASELINES, PAPER_CONFIGS, SMALL_CONFIGS, runConvergenceBench, type BenchOptions } from './convergence-bench.js';
import type { BenchConfig } from './convergence-run.js';
import { FULL_TABLES, QUICK_TABLES } from './strategy-plan.js';
import { runStrategyTables } from './strategy-tables.js';

/** --quick: FedSGD and FedAvg E=1 B=10 on the 10,000 digits, 3 rounds each. */
const QUICK_CONFIGS: BenchConfig[] = SMALL_CONFIGS.filter((c) => c.name === 'FedSGD E=1 B=∞' || c.name === 'FedAvg E=1 B=10').map((c) => ({
  ...c,
  roundCap: 3,
  timeCapS: 40,
}));

const num = (text: string): number => {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`not a number: ${text}`);
  return v;
};

const program = new Command('bench:convergence')
  .description('Rounds for FedSGD and FedAvg (2NN, MNIST, 100 institutions, C = 0.1) to reach a target accuracy, IID and shards:2')
  .option(
    '--quick',
    'seconds-long smoke run: 20 institutions on the 10,000 digits, FedSGD and FedAvg E=1 B=10, 3 rounds, no baseline or target',
    false,
  )
  .option(
    '--dataset <name>',
    "mnist-full (the paper's 60,000 training and 10,000 test digits) | mnist (the 10,000 digits of the mnist package, split 80/20) | idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS]",
  )
  .option('--out <dir>', 'run folder (default runs/bench-convergence-<timestamp>)')
  .option('--target <accuracy>', 'fixed target accuracy (0-1) instead of baseline − 2 points', num)
  .option('--partitions <list>', 'comma-separated partitions', 'iid,shards:2')
  .option('--institutions <n>', 'institutions', num)
  .option('--fraction <c>', 'fraction C of the institutions selected per round', num, 0.1)
  .option('--baseline-epochs <n>', 'epochs of the centralized baseline (0: none)', num)
  .option('--time-scale <x>', 'multiply every wall-time cap by x', num, 1)
  .option('--jobs <n>', 'partitions run side by side, one process each', num, 2)
  .option('--configs <json>', 'the configurations as JSON (default: the paper grid; used by the per-partition processes)')
  .option('--seed <n>', 'seed of the split, partition, initial model and selection', num, 0)
  .option(
    '--tables',
    'instead: the strategy table (every strategy on iid, dirichlet:0.1, shards:2) and the robustness table (10% and 20% Byzantine institutions)',
    false,
  )
  .option(
    '--direct',
    'run the same maths in-process (coordinator selection and strategies, agent trainer and attacks) without sockets, envelopes or database: the same numbers, faster',
    false,
  )
  .option('--shard <i/n>', 'with --tables: run only every n-th federation from the i-th (used by the child processes)');

program.parse();
const o = program.opts<{
  quick: boolean;
  dataset?: string;
  out?: string;
  target?: number;
  partitions: string;
  institutions?: number;
  fraction: number;
  baselineEpochs?: number;
  timeScale: number;
  jobs: number;
  configs?: string;
  seed: number;
  tables: boolean;
  direct: boolean;
  shard?: string;
}>();

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
if (o.tables) {
  try {
    const [index, count] = (o.shard ?? '').split('/').map(Number);
    const shard = o.shard ? { index: index as number, count: count as number } : undefined;
    if (shard && !(Number.isInteger(shard.index) && Number.isInteger(shard.count) && shard.index >= 0 && shard.index < shard.count))
      throw new Error(`--shard must be i/n with 0 <= i < n, got ${o.shard}`);
    const settings = { ...(o.quick ? QUICK_TABLES : FULL_TABLES), seed: o.seed };
    const args = process.argv.slice(2);
    await runStrategyTables({
      settings,
      engine: o.direct ? 'direct' : 'federation',
      out: o.out ?? `runs/bench-tables-${stamp}`,
      jobs: o.jobs,
      ...(shard ? { shard } : {}),
      command: `npm run bench:convergence -- ${args.join(' ')}`,
      childArgs: ['--tables', ...(o.quick ? ['--quick'] : []), ...(o.direct ? ['--direct'] : []), '--seed', String(o.seed)],
    });
    process.exit(0);
  } catch (err) {
    process.stderr.write(`bench:convergence --tables failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

const dataset = o.dataset ?? (o.quick ? 'mnist' : 'mnist-full');
const small = dataset === 'mnist';
const configs = small ? SMALL_CONFIGS : PAPER_CONFIGS;
const baseline = small ? BASELINES.small : BASELINES.full;
const opts: BenchOptions = {
  out: o.out ?? `runs/bench-convergence-${stamp}`,
  dataset,
  institutions: o.institutions ?? (o.quick ? 20 : 100),
  fraction: o.fraction,
  partitions: o.partitions
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
  configs: o.configs
    ? (JSON.parse(o.configs) as BenchConfig[])
    : o.quick
      ? QUICK_CONFIGS
      : configs.map((c) => ({ ...c, timeCapS: Math.round(c.timeCapS * o.timeScale) })),
  ...(o.target !== undefined ? { target: o.target } : {}),
  baseline: { ...baseline, epochs: o.baselineEpochs ?? (o.quick ? 0 : baseline.epochs) },
  jobs: o.jobs,
  engine: o.direct ? 'direct' : 'federation',
  seed: o.seed,
  command: `npm run bench:convergence${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
};

try {
  await runConvergenceBench(opts);
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench:convergence failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
