/** `npm run load`: 200 real agents (worker threads in a separate process) against one coordinator, a ~1M-parameter model, rounds timed and checked for lost or double-counted updates. */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { destination, pino } from 'pino';
import { parameterCount } from '../../protocol/index.js';
import { generateIdentity, publicIdentityOf, writeIdentityFile, writePublicIdentityFile } from '../../crypto/index.js';
import { createCoordinator, openSqliteStore } from '../../coordinator/index.js';
import { parsePolicy } from '../../coordinator/policy/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { grantSimulatedConsent } from '../simulate/consents.js';
import type { AgentHostCommand } from './agent-host.js';
import type { LoadSite, LoadWorkerMessage } from './load-protocol.js';
import { ResourceMonitor, slope } from './resource-monitor.js';
import { roundOk, verifyLoad, type Acknowledged } from './verify-load.js';

const int = (text: string): number => {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`not a positive integer: ${text}`);
  return v;
};

const program = new Command('load')
  .description('Load run: N agents on loopback against one coordinator, agents return a shifted model without training')
  .option('--agents <n>', 'simulated institutions', int, 200)
  .option('--rounds <r>', 'rounds to publish (ignored with --soak)', int, 5)
  .option('--hidden <width>', 'width of both hidden layers of the 2NN (700: 1,046,810 parameters)', int, 700)
  .option('--workers <n>', 'worker threads hosting the agents (in one separate process)', int, 4)
  .option('--soak <minutes>', 'run rounds for this long and report memory growth per round', Number)
  .option('--round-timeout <seconds>', 'deadline of each training round', int, 600)
  .option('--out <dir>', 'run folder (default runs/load-<timestamp>)')
  .parse();

interface Options {
  agents: number;
  rounds: number;
  hidden: number;
  workers: number;
  soak?: number;
  roundTimeout: number;
  out?: string;
}

interface RoundRow {
  round: number;
  participants: number;
  /** Round opened (waiting) to published. */
  wallMs: number;
  /** Tasks sent to published. */
  trainingMs: number;
  /** Coordinator CPU time (user + system) during the round. */
  cpuMs: number;
  peakRssMiB: number;
  /** After a full garbage collection at the end of the round (when node runs with --expose-gc). */
  rssMiB: number;
  heapMiB: number;
  /** ArrayBuffers (uploads, frames, models) still held after that GC. */
  buffersMiB: number;
}

const MiB = 1024 * 1024;
const FEDERATION = 'load';

async function main(o: Options): Promise<number> {
  const dir = resolve(o.out ?? join('runs', `load-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  mkdirSync(dir, { recursive: true });
  const spec = { ...mnistSpec('mlp'), hidden: [o.hidden, o.hidden] };
  const params = parameterCount(spec);
  const coordinatorIdentity = generateIdentity('coordinator');
  const sites = Array.from({ length: o.agents }, (_, i) => ({ identity: generateIdentity(`site-${i + 1}`), rows: 20 + (i % 41) }));
  const store = openSqliteStore(join(dir, 'coordinator.db'));
  const soakRounds = 100_000;
  const coordinator = await createCoordinator({
    store,
    dataDir: dir,
    identity: coordinatorIdentity,
    federation: {
      id: FEDERATION,
      name: 'load run',
      spec,
      policy: parsePolicy({ format: 'cohort-policy/v1', version: 1, minInstitutionsPerRound: 1 }),
      study: { title: 'Load run', purpose: 'Measure the coordinator under many agents.', dataCategories: ['synthetic'] },
      rules: {
        rounds: o.soak ? soakRounds : o.rounds,
        minParticipants: o.agents,
        joinGraceMs: 0,
        roundTimeoutMs: o.roundTimeout * 1000,
        waitTimeoutMs: 30 * 60_000,
        evaluationTimeoutMs: 120_000,
        train: { localEpochs: 1, batchSize: 10, learningRate: 0.05 },
      },
    },
    institutions: sites.map((s) => publicIdentityOf(s.identity)),
    log: pino({ level: 'warn' }, destination(2)),
  });
  const manifest = store.getFederation(FEDERATION)!.manifest;
  const coordinatorPublicFile = join(dir, 'keys', 'coordinator.pub.json');
  writePublicIdentityFile(coordinatorPublicFile, publicIdentityOf(coordinatorIdentity));
  const loadSites: LoadSite[] = sites.map((s, index) => {
    const keyFile = join(dir, 'keys', `${s.identity.id}.key.json`);
    const consentFile = join(dir, 'sites', s.identity.id, 'consent.json');
    writeIdentityFile(keyFile, s.identity);
    grantSimulatedConsent(s.identity, manifest, consentFile, o.agents);
    return { id: s.identity.id, index, keyFile, consentFile, rows: s.rows };
  });

  console.log(
    `load: ${o.agents} agents in ${o.workers} worker threads (one separate process), model 2NN 784-${o.hidden}-${o.hidden}-10: ${params.toLocaleString('en')} parameters, ${((params * 4) / MiB).toFixed(1)} MiB per update`,
  );
  console.log(`      ${o.soak ? `soak for ${o.soak} min` : `${o.rounds} rounds`}, run folder ${dir}`);
  const monitor = new ResourceMonitor(200);
  const acks: Acknowledged[] = [];
  const refusals: string[] = [];
  let ready = 0;
  const started = Date.now();
  const host = fork(fileURLToPath(new URL('./agent-host.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  host.on('message', (m: LoadWorkerMessage) => {
    if (m.type === 'uploaded')
      acks.push({ institution: m.institution, round: m.round, digest: m.digest, samples: m.samples, shift: m.shift });
    else if (m.type === 'refused') refusals.push(`${m.institution} round ${m.round}: ${m.code} ${m.message}`);
    else if (m.type === 'fatal') refusals.push(`${m.institution ?? 'worker'}: ${m.message}`);
    else if (m.type === 'ready' && ++ready === o.agents)
      console.log(`      ${ready}/${o.agents} agents ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  host.send({
    type: 'start',
    url: coordinator.url,
    federation: FEDERATION,
    coordinatorPublicFile,
    sites: loadSites,
    workers: o.workers,
  } satisfies AgentHostCommand);

  const rows: RoundRow[] = [];
  const { runner } = coordinator;
  let opened = Date.now();
  let trainingStarted = Date.now();
  let cpu = process.cpuUsage();
  runner.on('round:waiting', () => {
    opened = Date.now();
    cpu = process.cpuUsage();
    monitor.resetWindow();
  });
  runner.on('round:started', () => (trainingStarted = Date.now()));
  runner.on('update:refused', ({ institution, round, code, message }) =>
    refusals.push(`coordinator refused ${institution} round ${round}: ${code} ${message}`),
  );
  const soakUntil = o.soak ? Date.now() + o.soak * 60_000 : Number.POSITIVE_INFINITY;
  const outcome = new Promise<string>((resolveOutcome) => {
    runner.on('round:published', ({ round, metrics }) => {
      const used = process.cpuUsage(cpu);
      const after = monitor.afterGc();
      const row: RoundRow = {
        round,
        participants: metrics.participants,
        wallMs: Date.now() - opened,
        trainingMs: Date.now() - trainingStarted,
        cpuMs: (used.user + used.system) / 1000,
        peakRssMiB: monitor.windowPeakRss / MiB,
        rssMiB: after.rss / MiB,
        heapMiB: after.heapUsed / MiB,
        buffersMiB: after.arrayBuffers / MiB,
      };
      rows.push(row);
      console.log(
        `round ${String(round).padStart(3)}  ${row.participants} participants  ${(row.wallMs / 1000).toFixed(1)} s (training->published ${(row.trainingMs / 1000).toFixed(1)} s)  coordinator CPU ${(row.cpuMs / 1000).toFixed(1)} s  peak RSS ${row.peakRssMiB.toFixed(0)} MiB  after GC: RSS ${row.rssMiB.toFixed(0)} MiB, heap ${row.heapMiB.toFixed(0)} MiB, buffers ${row.buffersMiB.toFixed(0)} MiB`,
      );
      if (Date.now() >= soakUntil) resolveOutcome('soak finished');
    });
    runner.on('round:failed', ({ round, reason }) => console.log(`round ${round} FAILED: ${reason}`));
    runner.once('federation:complete', () => resolveOutcome('complete'));
    runner.once('federation:failed', ({ reason }) => resolveOutcome(`federation failed: ${reason}`));
  });
  const result = await outcome;
  const wallMs = Date.now() - started;
  const totalCpu = process.cpuUsage();
  host.send({ type: 'stop' } satisfies AgentHostCommand);
  await new Promise((resolveExit) => host.once('exit', resolveExit));
  await coordinator.close();
  monitor.stop();

  const checks = verifyLoad(store, dir, FEDERATION, acks);
  store.close();
  const published = checks.filter((c) => c.state === 'published');
  const ok =
    !result.startsWith('federation failed') &&
    published.every(roundOk) &&
    checks.every((c) => c.lost.length === 0 && c.doubleCounted.length === 0);
  const maxShiftError = Math.max(0, ...published.map((c) => Math.abs((c.measuredShift ?? 0) - (c.expectedShift ?? 0))));
  const steady = rows.slice(1);
  const summary = {
    agents: o.agents,
    workers: o.workers,
    parameters: params,
    outcome: result,
    wallS: wallMs / 1000,
    rounds: rows,
    meanRoundS: steady.length > 0 ? steady.reduce((s, r) => s + r.wallMs, 0) / steady.length / 1000 : rows[0] ? rows[0].wallMs / 1000 : 0,
    coordinator: {
      peakRssMiB: monitor.peakRss / MiB,
      peakHeapMiB: monitor.peakHeap / MiB,
      cpuS: (totalCpu.user + totalCpu.system) / 1e6,
      cpuPercentOfOneCore: ((totalCpu.user + totalCpu.system) / 1000 / wallMs) * 100,
    },
    growthPerRound:
      steady.length >= 3
        ? {
            rssMiB: slope(steady.map((r) => [r.round, r.rssMiB])),
            heapMiB: slope(steady.map((r) => [r.round, r.heapMiB])),
            buffersMiB: slope(steady.map((r) => [r.round, r.buffersMiB])),
          }
        : undefined,
    verification: {
      acknowledged: acks.length,
      accepted: checks.reduce((n, c) => n + c.accepted, 0),
      lost: checks.flatMap((c) => c.lost.map((s) => `${s}@${c.round}`)),
      unexplained: checks.flatMap((c) => c.unexplained.map((s) => `${s}@${c.round}`)),
      doubleCounted: checks.flatMap((c) => c.doubleCounted.map((s) => `${s}@${c.round}`)),
      maxShiftError,
      ok,
    },
    refusals: refusals.slice(0, 20),
    refusalCount: refusals.length,
  };
  writeFileSync(join(dir, 'load-report.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const v = summary.verification;
  console.log(
    `\n${result}: ${rows.length} rounds in ${summary.wallS.toFixed(0)} s, mean round ${summary.meanRoundS.toFixed(1)} s${steady.length > 0 ? ' (after the first)' : ''}`,
  );
  console.log(
    `coordinator: peak RSS ${summary.coordinator.peakRssMiB.toFixed(0)} MiB (heap ${summary.coordinator.peakHeapMiB.toFixed(0)} MiB), CPU ${summary.coordinator.cpuS.toFixed(0)} s = ${summary.coordinator.cpuPercentOfOneCore.toFixed(0)}% of one core`,
  );
  if (summary.growthPerRound)
    console.log(
      `memory growth per round (least squares, after GC): RSS ${summary.growthPerRound.rssMiB.toFixed(2)} MiB, heap ${summary.growthPerRound.heapMiB.toFixed(2)} MiB, buffers ${summary.growthPerRound.buffersMiB.toFixed(2)} MiB`,
    );
  console.log(
    `updates: ${v.acknowledged} acknowledged, ${v.accepted} accepted, ${v.lost.length} lost, ${v.unexplained.length} unexplained, ${v.doubleCounted.length} double counted; published models' mean shift off by at most ${v.maxShiftError.toExponential(1)}`,
  );
  if (refusals.length > 0) console.log(`${refusals.length} refusals or agent errors, first: ${refusals.slice(0, 3).join(' | ')}`);
  console.log(ok ? 'OK: nothing lost, nothing counted twice' : 'FAILED: see load-report.json');
  return ok ? 0 : 1;
}

main(program.opts<Options>()).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
