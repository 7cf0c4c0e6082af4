/** Bench section `scale`: rounds of many simulated institutions (real coordinator, real agents in worker threads), 1 thread against 2, and memory per institution. */
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { openSqliteStore } from '../../coordinator/index.js';
import { defaultPolicy } from '../../coordinator/policy/index.js';
import { simulate, type Summary } from '../simulate/run.js';
import type { BenchContext, BenchResult, BenchRow, BenchSection } from './section.js';

/** One measured run of `cohort simulate`. */
export interface ScaleRun {
  institutions: number;
  workers: number;
  rounds: number;
  /** Median training-to-publication time of the rounds measured (round 1 only when there is one round, else rounds 2..R). */
  roundMs: number;
  /** Steady-state throughput: rounds published per minute between the first and the last publication (null with one round). */
  roundsPerMinute: number | null;
  /** Institutions whose updates a round took in, per second of round time. */
  institutionsPerSecond: number;
  participants: number;
  /** Peak RSS of the whole process: coordinator, test-set evaluation and every worker thread's agents. */
  peakRssMb: number;
  /** From agent start to the end of the run. */
  wallMs: number;
  /** CPU time of the whole process (all threads) per measured round, median: what the round costs on an idle machine. */
  cpuMsPerRound: number;
  /** CPU time of the main thread (coordinator, test-set evaluation) per measured round, median: the serial part (event-loop busy time where the OS does not report per-thread CPU). */
  mainThreadMsPerRound: number;
  /** RSS of the whole process when the last round was published (every agent connected, past start-up peaks). */
  rssAtEndMb: number;
}

/**
 * Runs one simulated federation of MNIST logistic regression (E = 1, B = 10, IID) and measures its rounds.
 * @example const run = await measureScale({ institutions: 20, workers: 2, rounds: 1, outDir: '/tmp/x' })
 */
export async function measureScale(args: { institutions: number; workers: number; rounds: number; outDir: string }): Promise<ScaleRun> {
  const out = join(args.outDir, `scale-${args.institutions}-w${args.workers}`);
  mkdirSync(out, { recursive: true });
  const console = createWriteStream(join(args.outDir, `scale-${args.institutions}-w${args.workers}.txt`));
  const meter = startCpuMeter();
  let summary: Summary;
  try {
    summary = await simulate({
      institutions: args.institutions,
      rounds: args.rounds,
      dataset: { kind: 'mnist' },
      partition: { kind: 'iid' },
      partitionText: 'iid',
      model: 'logreg',
      localEpochs: 1,
      batchSize: 10,
      learningRate: 0.05,
      seed: 0,
      out,
      centralized: false,
      backend: 'auto',
      fraction: 1,
      // Round 1 starts once 90% are online (or all, at once); later rounds take every online institution.
      minParticipants: Math.max(1, Math.ceil(args.institutions * 0.9)),
      // A straggler (e.g. an agent whose connection dropped mid-round) costs at most this much of a measured round.
      roundTimeoutMs: 120_000,
      strategy: 'fedavg',
      strategyParams: {},
      // Sites of 8 digits keep no validation rows, so no fairness rule (it needs the sites' validation accuracies).
      policy: defaultPolicy({ minInstitutionsPerRound: Math.min(2, args.institutions) }),
      revoke: [],
      workers: args.workers,
      out_stream: console,
    });
  } finally {
    meter.stop();
    console.end();
    await once(console, 'close');
  }
  const store = openSqliteStore(join(out, 'coordinator.db'));
  const publishedAt = new Map(
    store
      .listRounds('simulation')
      .filter((r) => r.state === 'published')
      .map((r) => [r.round, r.closedAt ?? 0]),
  );
  store.close();
  const published = [...publishedAt.values()].sort((a, b) => a - b);
  const measured = summary.rounds.length > 1 ? summary.rounds.slice(1) : summary.rounds;
  const windows = measured.map((r) => ({
    end: publishedAt.get(r.round) ?? 0,
    start: (publishedAt.get(r.round) ?? 0) - (r.durationMs ?? 0),
  }));
  const roundMs = median(measured.map((r) => r.durationMs ?? Number.NaN));
  const participants = Math.round(median(measured.map((r) => r.participants)));
  const span = (published.at(-1) ?? 0) - (published[0] ?? 0);
  return {
    institutions: args.institutions,
    workers: args.workers,
    rounds: summary.rounds.length,
    roundMs,
    roundsPerMinute: published.length > 1 && span > 0 ? ((published.length - 1) * 60_000) / span : null,
    institutionsPerSecond: participants / (roundMs / 1000),
    participants,
    peakRssMb: summary.runtime.coordinatorPeakRssMb,
    wallMs: summary.runtime.wallMs,
    cpuMsPerRound: median(windows.map((w) => meter.between(w.start, w.end).cpuMs)),
    mainThreadMsPerRound: median(windows.map((w) => meter.between(w.start, w.end).mainMs)),
    rssAtEndMb: Math.round(meter.at(published.at(-1) ?? Date.now()).rssMb),
  };
}

interface CpuSample {
  t: number;
  /** Process CPU (user + system, every thread), ms. */
  cpuMs: number;
  /** Main-thread CPU time (Linux), else its event-loop busy time, ms. */
  mainMs: number;
  rssMb: number;
}

/** The main thread's own CPU time from /proc (utime + stime, 100 ticks a second), or undefined off Linux. */
function mainThreadCpuMs(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Samples the process's CPU time and the main thread's busy time every 100 ms, to cut out any window later. */
function startCpuMeter(): {
  stop(): void;
  at(t: number): CpuSample;
  between(start: number, end: number): { cpuMs: number; mainMs: number };
} {
  const samples: CpuSample[] = [];
  const take = (): void => {
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    samples.push({
      t: Date.now(),
      cpuMs: (cpu.user + cpu.system) / 1000,
      mainMs: mainThreadCpuMs() ?? elu.active,
      rssMb: process.memoryUsage.rss() / 2 ** 20,
    });
  };
  take();
  const timer = setInterval(take, 100);
  const at = (t: number): CpuSample => samples.find((s) => s.t >= t) ?? (samples.at(-1) as CpuSample);
  return {
    at,
    stop() {
      clearInterval(timer);
      take();
    },
    between(start, end) {
      const [a, b] = [at(start), at(end)];
      return { cpuMs: b.cpuMs - a.cpuMs, mainMs: b.mainMs - a.mainMs };
    },
  };
}

/**
 * Memory per institution from two runs in worker threads: the slope of the RSS at the last publication between a small and a large federation.
 * @example rssPerInstitutionMb(small, large) // e.g. 0.6
 */
export function rssPerInstitutionMb(small: ScaleRun, large: ScaleRun): number {
  return (large.rssAtEndMb - small.rssAtEndMb) / Math.max(1, large.institutions - small.institutions);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0
    ? Number.NaN
    : sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const TARGET_MS = 10_000;

function row(run: ScaleRun, baseline: ScaleRun): BenchRow {
  const speedUp = baseline.roundMs / run.roundMs;
  return {
    cells: [
      String(run.institutions),
      String(run.workers),
      String(run.participants),
      `${(run.roundMs / 1000).toFixed(2)} s`,
      run.roundsPerMinute === null ? 'n/a' : run.roundsPerMinute.toFixed(2),
      run.institutionsPerSecond.toFixed(0),
      `${(run.cpuMsPerRound / 1000).toFixed(2)} s`,
      `${(run.mainThreadMsPerRound / 1000).toFixed(2)} s`,
      `${run.rssAtEndMb} (${run.peakRssMb})`,
      `${speedUp.toFixed(2)}x`,
    ],
    values: { ...run, speedUpVs1Worker: speedUp },
  };
}

/** The `scale` section: quick, 20 institutions and 1 round; full, 20 and 1,000 institutions, 3 rounds, 1 and 2 worker threads. */
export const scaleSection: BenchSection = {
  id: 'scale',
  title: 'Simulation scale: institutions per round in worker threads',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const large = ctx.quick ? { institutions: 20, rounds: 1 } : { institutions: 1000, rounds: 3 };
    const small = { institutions: 20, rounds: 1 };
    const measure = async (institutions: number, rounds: number, workers: number): Promise<ScaleRun> => {
      ctx.log(`scale: ${institutions} institutions, ${workers} worker thread(s), ${rounds} round(s) ...`);
      const run = await measureScale({ institutions, workers, rounds, outDir: ctx.outDir });
      ctx.log(
        `scale: ${institutions} institutions, ${workers} worker(s): round ${(run.roundMs / 1000).toFixed(2)} s, peak RSS ${run.peakRssMb} MB`,
      );
      return run;
    };
    const one = await measure(large.institutions, large.rounds, 1);
    const two = await measure(large.institutions, large.rounds, 2);
    const reference = ctx.quick ? undefined : await measure(small.institutions, small.rounds, 2);
    const rows = [row(one, one), row(two, one), ...(reference ? [row(reference, reference)] : [])];
    const notes = [
      'MNIST logistic regression (7,850 parameters), IID, E = 1, B = 10, lr = 0.05; every update sealed, signed, uploaded over socket.io and checked by the real coordinator; candidate models evaluated by the sites and gated by the default policy before publication.',
      'Round time: from the round starting (tasks sent) to the model published, median of rounds 2..R (round 1 when R = 1). Rounds/min: publications per minute between the first and the last. Baseline: the same federation with 1 worker thread, in this run.',
      'CPU per round: user + system time of the whole process (every thread) in the round; main thread per round: its own CPU time (coordinator, socket.io server, SQLite, test-set evaluation), the part no worker thread can take. On a machine shared with other work the round time grows, these two barely do.',
    ];
    if (reference) {
      const perInstitution = rssPerInstitutionMb(reference, two);
      notes.push(
        `Memory: the RSS of the whole process (coordinator and agents) when the last round is published grows by ${perInstitution.toFixed(2)} MB per institution between ${reference.institutions} and ${two.institutions} institutions (2 threads): about ${Math.floor(1024 / perInstitution)} institutions per GB on top of a ${reference.rssAtEndMb} MB base (the coordinator, and TensorFlow.js and the MNIST digits once per thread). Peak RSS is higher: every thread parses the digits at start-up.`,
      );
      const best = Math.min(one.roundMs, two.roundMs);
      notes.push(
        `Target: a round of ${large.institutions} institutions in under ${TARGET_MS / 1000} s: ${best < TARGET_MS ? 'met' : 'missed'} (best ${(best / 1000).toFixed(2)} s).`,
      );
    }
    return {
      title: scaleSection.title,
      columns: [
        'institutions',
        'worker threads',
        'participants',
        'round time',
        'rounds/min',
        'institutions/s',
        'CPU per round',
        'main thread per round',
        'RSS at end (peak), MB',
        'vs 1 thread',
      ],
      rows,
      notes,
    };
  },
};
