/** One configuration of the convergence benchmark: a real coordinator and 100 in-process agents, stopped at the target accuracy or a cap. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { decodeTensors, type NamedTensor } from '../../protocol/index.js';
import { generateIdentity, publicIdentityOf } from '../../crypto/index.js';
import { createCoordinator, openSqliteStore, type Store } from '../../coordinator/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { parsePolicy } from '../../coordinator/policy/index.js';
import { createAgent, dataSourceFor, type Agent, type CustomTrainer, type DataRef } from '../../node-agent/index.js';
import type { Dataset } from '../../node-agent/data/index.js';
import { byzantineMod, type UpdateTransform } from '../simulate/byzantine.js';
import { evaluate, type TF } from '../../node-agent/train/index.js';
import { grantSimulatedConsent } from '../simulate/consents.js';
import type { SimulationData } from '../simulate/dataset.js';

/** A FedSGD or FedAvg configuration: E local epochs of batch B (FULL_BATCH: the whole site) at learning rate lr. */
export interface BenchConfig {
  name: string;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Round cap and wall-time cap (seconds) of one run of this configuration. */
  roundCap: number;
  timeCapS: number;
}

export interface ConfigArgs {
  tf: TF;
  data: SimulationData;
  testSet: Dataset;
  config: BenchConfig;
  /** The data set the sites' rows index into (default the 10,000-digit `mnist`). */
  dataRef?: DataRef;
  partition: string;
  fraction: number;
  target: number | undefined;
  seed: number;
  workDir: string;
  say: (line: string) => void;
  /** Aggregation strategy and its parameters (default FedAvg). */
  strategy?: { name: string; params: Record<string, number | string> };
  /** More round rules (e.g. dp, secagg) on top of the configuration's. */
  rules?: Record<string, unknown>;
  /** Replaces local training at every site (e.g. a perturbed model, to time the protocol alone). */
  trainer?: CustomTrainer;
  /** A Byzantine site's update transform, by site index (none: an honest site). */
  transformFor?: (site: number) => UpdateTransform | undefined;
}

export interface CurvePoint {
  round: number;
  accuracy: number;
  loss: number;
  elapsedMs: number;
  /** From the round's start (tasks sent) to its publication, measured at the coordinator. */
  roundMs?: number;
  /** Sealed envelope bytes the sites sent in the round (every update, accepted or refused). */
  uploadBytes?: number;
}

/** The sealed bytes the sites sent in a round, from the coordinator's participation records. */
function sentBytes(store: Store, round: number): number {
  return store.listParticipations('bench', round).reduce((n, p) => n + (p.bytes ?? 0), 0);
}

export interface ConfigResult {
  config: BenchConfig;
  partition: string;
  /** First round whose global model reached the target, or null. */
  roundsToTarget: number | null;
  /** Why the run stopped: the target, the round cap or the wall-time cap. */
  stoppedBy: 'target' | 'round-cap' | 'time-cap' | 'failed';
  roundsRun: number;
  bestAccuracy: number;
  bestRound: number;
  curve: CurvePoint[];
  wallMs: number;
  /** Byzantine updates the coordinator accepted, per round (index 0: round 1); only when some site is Byzantine. */
  byzantinePerRound?: number[];
}

const quiet = pino({ level: 'silent' });
/** The largest batch the task schema allows; the trainer caps it at the site's row count (full-batch FedSGD). */
export const FULL_BATCH = 1_000_000;

/**
 * Runs one federation for `config` until the global model reaches `target` on the test set, or a cap is hit.
 * @example const r = await runConfig({ tf, data, testSet, config: { name: 'FedSGD', localEpochs: 1, batchSize: FULL_BATCH, learningRate: 0.5, roundCap: 500, timeCapS: 300 }, partition: 'iid', fraction: 0.1, target: 0.94, seed: 0, workDir, say: console.log })
 */
export async function runConfig(args: ConfigArgs): Promise<ConfigResult> {
  const { tf, data, config } = args;
  const { roundCap } = config;
  const started = Date.now();
  rmSync(args.workDir, { recursive: true, force: true });
  mkdirSync(args.workDir, { recursive: true });
  const n = data.sites.length;
  const coordinatorIdentity = generateIdentity('coordinator');
  const sites = data.sites.map((_, i) => generateIdentity(`institution-${i + 1}`));
  const store = openSqliteStore(join(args.workDir, 'coordinator.db'));
  const coordinator = await createCoordinator({
    store,
    dataDir: args.workDir,
    identity: coordinatorIdentity,
    federation: {
      id: 'bench',
      name: `convergence bench ${config.name} ${args.partition}`,
      spec: data.spec,
      policy: parsePolicy({ format: 'cohort-policy/v1', version: 1, minInstitutionsPerRound: 1 }),
      study: {
        title: 'Convergence benchmark',
        purpose: 'Compare the rounds FedSGD and FedAvg need to reach a target accuracy.',
        dataCategories: [args.dataRef?.kind === 'idx' ? 'images' : 'handwritten-digit-images'],
      },
      rules: {
        rounds: roundCap,
        minParticipants: Math.max(1, Math.round(args.fraction * n)),
        fraction: args.fraction,
        joinGraceMs: 10_000,
        roundTimeoutMs: 120_000,
        train: { localEpochs: config.localEpochs, batchSize: config.batchSize, learningRate: config.learningRate },
        seed: args.seed,
        ...(args.strategy ? { strategy: args.strategy.name, strategyParams: args.strategy.params } : {}),
        ...args.rules,
      },
    },
    institutions: sites.map(publicIdentityOf),
    log: quiet,
  });
  const manifest = store.getFederation('bench')!.manifest;
  const agents: Agent[] = sites.map((site, i) => {
    const consentFile = join(args.workDir, 'sites', site.id, 'consent.json');
    // Training only: the bench measures every model on the held-out test set itself, so the sites skip the pre-publication evaluation.
    grantSimulatedConsent(site, manifest, consentFile, n, ['training']);
    const transformUpdate = args.transformFor?.(i);
    return createAgent({
      ...(transformUpdate ? { mods: [byzantineMod(transformUpdate)] } : {}),
      ...(args.trainer ? { trainer: args.trainer } : {}),
      consentFile,
      coordinatorUrl: coordinator.url,
      federation: 'bench',
      identity: site,
      coordinator: publicIdentityOf(coordinatorIdentity),
      data: dataSourceFor(args.dataRef ?? { kind: 'mnist' }, data.sites[i]),
      backend: 'wasm',
      valFraction: 0,
      seed: args.seed * 1000 + i,
      log: quiet,
    });
  });

  const byzantine = new Map<number, number>();
  agents.forEach((agent, i) => {
    if (args.transformFor?.(i)) agent.events.on('uploaded', ({ round }) => void byzantine.set(round, (byzantine.get(round) ?? 0) + 1));
  });

  const result: ConfigResult = {
    config,
    partition: args.partition,
    roundsToTarget: null,
    stoppedBy: 'round-cap',
    roundsRun: 0,
    bestAccuracy: 0,
    bestRound: 0,
    curve: [],
    wallMs: 0,
  };
  const label = `[${args.partition} ${config.name}]`;
  let finish!: (why: ConfigResult['stoppedBy']) => void;
  const finished = new Promise<ConfigResult['stoppedBy']>((resolve) => (finish = resolve));
  let evaluations: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const stop = (why: ConfigResult['stoppedBy']): void => {
    if (stopped) return;
    stopped = true;
    finish(why);
  };
  const timer = setTimeout(() => stop('time-cap'), config.timeCapS * 1000);

  const roundStarted = new Map<number, number>();
  coordinator.runner.on('round:started', ({ round }) => void roundStarted.set(round, performance.now()));
  coordinator.runner.on('round:published', ({ round, version }) => {
    const roundMs = performance.now() - (roundStarted.get(round) ?? performance.now());
    evaluations = evaluations.then(async () => {
      if (stopped) return;
      const record = store.getModel('bench', version)!;
      const weights: NamedTensor[] = decodeTensors(loadModelFile(args.workDir, record.path, record.digest)).tensors;
      const ev = await evaluate({ tf, spec: data.spec, weights, data: args.testSet, batchSize: 500 });
      const elapsedMs = Date.now() - started;
      result.curve.push({ round, accuracy: ev.accuracy, loss: ev.loss, elapsedMs, roundMs, uploadBytes: sentBytes(store, round) });
      result.roundsRun = round;
      if (ev.accuracy > result.bestAccuracy) Object.assign(result, { bestAccuracy: ev.accuracy, bestRound: round });
      args.say(
        `${label} round ${round}: accuracy ${ev.accuracy.toFixed(4)} loss ${ev.loss.toFixed(4)} (best ${result.bestAccuracy.toFixed(4)}), ${(elapsedMs / 1000).toFixed(1)} s`,
      );
      if (args.target !== undefined && ev.accuracy >= args.target) {
        result.roundsToTarget = round;
        stop('target');
      } else if (round >= roundCap) stop('round-cap');
    });
  });
  coordinator.runner.once('federation:failed', ({ reason }) => {
    args.say(`${label} federation failed: ${reason}`);
    stop('failed');
  });

  try {
    result.stoppedBy = await finished;
    await evaluations;
  } finally {
    clearTimeout(timer);
    for (const agent of agents) agent.close();
    await coordinator.close().catch(() => undefined);
    store.close();
    rmSync(args.workDir, { recursive: true, force: true });
  }
  result.wallMs = Date.now() - started;
  if (agents.some((_, i) => args.transformFor?.(i)))
    result.byzantinePerRound = Array.from({ length: result.roundsRun }, (_, r) => byzantine.get(r + 1) ?? 0);
  return result;
}
