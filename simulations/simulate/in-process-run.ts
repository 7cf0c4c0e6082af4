/** `cohort simulate --in-process`: the experiment through runInProcess, written to a run folder as `cohort simulate` writes it. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { evaluate, selectBackend } from '../../node-agent/train/index.js';
import { encodeTensors, parameterCount } from '../../protocol/index.js';
import { formatDataRef } from '../../node-agent/data-source.js';
import {
  createRoundProgress,
  finalReport,
  plotRoundsSvg,
  roundsToCsv,
  taskPlots,
  type FinalReport,
  type RoundRow,
} from '../report/index.js';
import { runInProcess, type InProcessOptions, type InProcessRound } from './in-process.js';

export interface InProcessRunOptions extends InProcessOptions {
  /** The run folder. */
  out: string;
  /** How the partition was given (`iid`, `dirichlet:0.3`, ...), for the report. */
  partitionText: string;
  out_stream?: NodeJS.WritableStream;
}

export interface InProcessSummary {
  mode: 'in-process';
  config: Record<string, unknown>;
  rounds: RoundRow[];
  final: FinalReport;
  /** The final global model, unsigned (no coordinator key in-process): the codec's frame, `path` relative to the run folder. */
  model: { path: string; parameters: number };
  runtime: {
    wallMs: number;
    backend: string;
    /** The process's peak resident memory (getrusage's maxrss). */
    peakRssMb: number;
    secondsPerRound: number;
    cpuSecondsPerRound: number;
    /** The 1-minute load average of the machine (/proc/loadavg) when the run started and ended. */
    loadAverage1m: { start: number; end: number };
  };
}

const rowOf = (r: InProcessRound): RoundRow => ({
  round: r.round,
  participants: r.institutions.length,
  loss: r.test?.loss ?? Number.NaN,
  accuracy: r.test?.accuracy ?? Number.NaN,
  trainLoss: r.meanTrainLoss,
  samples: r.trainSamples,
  durationMs: Math.round(r.seconds * 1000),
});

/**
 * Runs the simulation in this process and writes summary.json, rounds.csv, rounds.svg and the task's plots, as
 * `cohort simulate` does for the real federation (no coordinator.db, keys, sites or logs: there are none).
 * @example await simulateInProcess({ ...options, out: 'runs/fast', partitionText: 'iid' })
 */
export async function simulateInProcess(opts: InProcessRunOptions): Promise<InProcessSummary> {
  const [startedAt, load] = [Date.now(), loadavg()[0] as number];
  const out = opts.out_stream ?? process.stdout;
  const say = (text: string): void => void out.write(`${text}\n`);
  const dir = resolve(opts.out);
  if (existsSync(join(dir, 'summary.json')))
    throw new Error(`--out ${opts.out} already holds a run (summary.json): choose another folder or remove it`);
  const who = opts.population
    ? `a population of ${opts.population.size} institutions (${opts.population.rows} rows each), ${opts.population.perRound} sampled per round`
    : `${opts.institutions} institutions, ${opts.partitionText}`;
  say(
    `Cohort in-process simulation: ${who}, ${opts.rounds} rounds, ${formatDataRef(opts.dataset)}, ${opts.model}, E=${opts.localEpochs} B=${opts.batchSize} lr=${opts.learningRate} -> ${dir}`,
  );
  const progress = createRoundProgress({ rounds: opts.rounds, out });
  const rows: RoundRow[] = [];
  const result = await runInProcess({ ...opts, evaluate: false, evaluateEachRound: true }, (r) => {
    rows.push(rowOf(r));
    progress.roundDone(rows.at(-1) as RoundRow);
  });
  progress.close();
  const { tf } = await selectBackend(opts.backend);
  const ev = await evaluate({ tf, spec: result.spec, weights: result.weights, data: result.testSet });
  const { final, text } = finalReport(result.spec, result.testSet, ev);
  say('');
  say(`Final global model on the held-out test set (${result.testSet.n} rows):`);
  say(text);
  const mean = (f: (r: InProcessRound) => number): number => result.rounds.reduce((s, r) => s + f(r), 0) / result.rounds.length;
  const { out_stream: _s, out: _o, ...config } = opts;
  const summary: InProcessSummary = {
    mode: 'in-process',
    config,
    rounds: rows,
    final,
    model: { path: 'model-final.bin', parameters: parameterCount(result.spec) },
    runtime: {
      wallMs: Date.now() - startedAt,
      backend: result.backend,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      secondsPerRound: mean((r) => r.seconds),
      cpuSecondsPerRound: mean((r) => r.cpuSeconds),
      loadAverage1m: { start: load, end: loadavg()[0] as number },
    },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(dir, 'rounds.csv'), roundsToCsv(rows));
  writeFileSync(join(dir, summary.model.path), encodeTensors(result.weights, { round: opts.rounds, spec: result.spec }));
  writeFileSync(join(dir, 'rounds.svg'), await plotRoundsSvg(rows, { title: `in-process ${opts.strategy ?? 'fedavg'}, ${who}` }));
  const plots = await taskPlots(result.spec, result.testSet, ev);
  for (const [name, plot] of Object.entries(plots)) writeFileSync(join(dir, name), plot);
  const rt = summary.runtime;
  say(
    `Run folder: ${dir} (summary.json, rounds.csv, rounds.svg, ${summary.model.path}${Object.keys(plots)
      .map((p) => `, ${p}`)
      .join('')})`,
  );
  say(
    `Wall time ${(rt.wallMs / 1000).toFixed(1)} s, ${rt.secondsPerRound.toFixed(2)} s per round, backend ${rt.backend}, peak RSS ${rt.peakRssMb} MB, load average ${rt.loadAverage1m.start.toFixed(2)} -> ${rt.loadAverage1m.end.toFixed(2)}.`,
  );
  return summary;
}
