/** The strategy and robustness tables: every strategy under IID and label-skewed partitions, and the robust ones against Byzantine sites. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createPrng } from '../../crypto/index.js';
import { parsePartition, selectRows } from '../../node-agent/data/index.js';
import { selectBackend } from '../../node-agent/train/index.js';
import { prepareData, type SimulationData } from '../simulate/dataset.js';
import { runConfig } from './convergence-run.js';
import { runBenchChild } from './bench-child.js';
import { runDirect } from './strategy-direct.js';
import {
  attackOf,
  byzantineCount,
  runLabel,
  tablePlan,
  type TableRun,
  type TableRunResult,
  type TableSettings,
  type TablesSummary,
} from './strategy-plan.js';
import { strategyTablesMarkdown, strategyTablesSvg } from './strategy-report.js';

/** Runs `runs` one after the other in this process. */
async function runShard(runs: TableRun[], s: TableSettings, engine: TableEngine, say: (line: string) => void): Promise<TableRunResult[]> {
  const { tf } = await selectBackend('wasm', () => undefined);
  const cache = new Map<string, SimulationData>();
  const dataFor = (partition: string): SimulationData => {
    let data = cache.get(partition);
    if (!data) {
      data = prepareData({ kind: 'mnist' }, 'mlp', s.institutions, parsePartition(partition), s.seed);
      // A seeded random subset of each site's rows (a site's list is grouped by class, so its head would be one label).
      if (s.rowsPerSite !== undefined)
        data = {
          ...data,
          sites: data.sites.map((rows, i) =>
            createPrng(s.seed * 7919 + i)
              .shuffle([...rows])
              .slice(0, s.rowsPerSite),
          ),
        };
      cache.set(partition, data);
    }
    return data;
  };
  const out: TableRunResult[] = [];
  for (const run of runs) {
    const data = dataFor(run.partition);
    const testSet = selectRows(data.all, data.test);
    const bad = byzantineCount(s.institutions, run.byzantineShare ?? 0);
    const transform = run.attack ? attackOf(run.attack).transform : undefined;
    const label = runLabel(run);
    const result = await (engine === 'direct' ? runDirect : runConfig)({
      tf,
      data,
      testSet,
      config: {
        name: label,
        localEpochs: s.localEpochs,
        batchSize: s.batchSize,
        learningRate: s.learningRate,
        roundCap: s.rounds,
        timeCapS: s.timeCapS,
      },
      partition: run.partition,
      fraction: s.fraction,
      target: undefined,
      seed: s.seed,
      workDir: join(tmpdir(), `cohort-tables-${process.pid}`),
      say: () => undefined,
      strategy: { name: run.strategy.name, params: run.strategy.params },
      transformFor: (site) => (site < bad ? transform : undefined),
    });
    const last = result.curve.at(-1);
    say(
      `[${label}] ${result.roundsRun} rounds (${result.stoppedBy}), final accuracy ${last ? last.accuracy.toFixed(4) : 'none'}, ${(result.wallMs / 1000).toFixed(1)} s`,
    );
    out.push({ run, byzantineSites: bad, result });
  }
  return out;
}

/** `federation`: the real coordinator and agents over loopback; `direct`: the same maths in-process (strategy-direct.ts). */
export type TableEngine = 'federation' | 'direct';

export interface TablesOptions {
  settings: TableSettings;
  engine: TableEngine;
  out: string;
  /** Processes the runs are dealt out to (1: all in this process). */
  jobs: number;
  /** Run only shard `index` of `count` (a child process) and write tables-shard.json. */
  shard?: { index: number; count: number };
  /** The command line that reproduces the run (for the report). */
  command: string;
  /** Arguments that make a child process run the same settings (the parent's own, less --out, --jobs and --shard). */
  childArgs: string[];
  say?: (line: string) => void;
}

/**
 * Runs both tables and writes strategy-tables.md, strategy-tables.json and strategy-tables.svg into `opts.out`.
 * @example await runStrategyTables({ settings: QUICK_TABLES, engine: 'federation', out: 'runs/tables', jobs: 2, command, childArgs: ['--tables', '--quick'] })
 */
export async function runStrategyTables(opts: TablesOptions): Promise<TablesSummary> {
  const started = Date.now();
  const say = opts.say ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const plan = tablePlan(opts.settings);
  if (opts.shard) {
    const mine = plan.filter((_, i) => i % opts.shard!.count === opts.shard!.index);
    const results = await runShard(mine, opts.settings, opts.engine, say);
    writeFileSync(join(out, 'tables-shard.json'), `${JSON.stringify(results)}\n`);
    return { settings: opts.settings, engine: opts.engine, results, jobs: 1, wallMs: Date.now() - started, command: opts.command };
  }
  const s = opts.settings;
  say(
    `Strategy tables (${opts.engine === 'direct' ? 'direct: in-process maths, no network' : 'real coordinator and agents'}): ${plan.length} federations of ${s.institutions} institutions, C = ${s.fraction}, ${s.rounds} rounds of E=${s.localEpochs} B=${s.batchSize} lr=${s.learningRate}, ${opts.jobs} process(es) -> ${out}`,
  );
  const jobs = Math.max(1, Math.min(opts.jobs, plan.length));
  const results = jobs === 1 ? await runShard(plan, s, opts.engine, say) : await runInChildren(plan, jobs, out, opts, say);
  const summary: TablesSummary = { settings: s, engine: opts.engine, results, jobs, wallMs: Date.now() - started, command: opts.command };
  const md = strategyTablesMarkdown(summary);
  writeFileSync(join(out, 'strategy-tables.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(out, 'strategy-tables.md'), md);
  writeFileSync(join(out, 'strategy-tables.svg'), await strategyTablesSvg(summary));
  say('');
  say(md);
  say(
    `Wrote ${join(out, 'strategy-tables.md')}, strategy-tables.json and strategy-tables.svg (wall time ${(summary.wallMs / 60_000).toFixed(1)} min).`,
  );
  return summary;
}

/** Deals the plan out round-robin to `jobs` child processes and puts their results back in plan order. */
async function runInChildren(
  plan: TableRun[],
  jobs: number,
  out: string,
  opts: TablesOptions,
  say: (line: string) => void,
): Promise<TableRunResult[]> {
  const shards = await Promise.all(
    Array.from({ length: jobs }, async (_, index) => {
      const dir = join(out, 'shards', String(index));
      await runBenchChild([...opts.childArgs, '--out', dir, '--jobs', '1', '--shard', `${index}/${jobs}`], say, `table shard ${index}`);
      return JSON.parse(readFileSync(join(dir, 'tables-shard.json'), 'utf8')) as TableRunResult[];
    }),
  );
  return plan.map((_, i) => shards[i % jobs]![Math.floor(i / jobs)]!);
}
