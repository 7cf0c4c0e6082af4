/** `cohort simulate`: a real coordinator and real agents (one process each, or many per worker thread) on loopback, then a report of the result. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { destination, pino } from 'pino';
import {
  decodeTensors,
  parameterCount,
  totalParameterCount,
  taskOf,
  type ModelSpec,
  type NamedTensor,
  type Task,
  type TrainConfig,
  type TrainLayers,
} from '../../protocol/index.js';
import { generateIdentity, publicIdentityOf, writeIdentityFile, writePublicIdentityFile } from '../../crypto/index.js';
import { createCoordinator, openSqliteStore, type Coordinator, type Store } from '../../coordinator/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { partitionSummary, selectRows, type Dataset, type PartitionScheme } from '../../node-agent/data/index.js';
import {
  createModelRunner,
  evaluate,
  selectBackend,
  type BackendPreference,
  type Evaluation,
  type TF,
} from '../../node-agent/train/index.js';
import {
  classificationReport,
  createRoundProgress,
  finalReport,
  plotRoundsSvg,
  roundsToCsv,
  taskPlots,
  type FinalReport,
  type Report,
  type RoundRow,
} from '../report/index.js';
import { prepareData, type Arch, type DatasetChoice, type NaturalPartition, type TabularOptions } from './dataset.js';
import { formatDataRef } from '../../node-agent/data-source.js';
import { evaluateInstitutions, formatInstitutions, type InstitutionResult } from './institution-results.js';
import type { AgentProcessConfig } from './configured-agent.js';
import type { RoundRules } from '../../coordinator/config.js';
import { resolveWorkers, startAgentFleet, type AgentFleet, type FleetPlacement } from './agent-fleet.js';
import { grantSimulatedConsent } from './consents.js';
import { defaultPolicy, type Policy, type RuleDecision } from '../../coordinator/policy/index.js';
import { formatLineage, lineage, type Lineage } from '../../coordinator/models/index.js';
import { trainCentralized } from './centralized.js';
import { assignAttackers, type ByzantineFlag } from './byzantine-sites.js';
import { byzantineReport, formatByzantine, type ByzantineReport, type Refusal } from './byzantine-report.js';
import { isPreset, parseResNet } from '../../protocol/cli/options.js';
import { formatForgetting, type ForgettingReport } from './forgetting.js';
import { federationModel, modelKind } from './federation-model.js';

export interface SimulateOptions {
  institutions: number;
  rounds: number;
  dataset: DatasetChoice;
  partition: PartitionScheme;
  partitionText: string;
  /** A preset, or a path to a user's TF.js Layers model.json (docs/models.md). */
  model: Arch | string;
  /** A user model only: BatchNormalization tensors stay at each site (FedBN). */
  fedbn?: boolean;
  /** Fine-tuning a model file: which layers train and travel (the head is replaced when the data's classes differ). */
  trainLayers?: TrainLayers;
  /** Only the rows of these classes (`--classes`), relabelled in this order. */
  classes?: string[];
  /** Continual learning: the pretrained model's own task, scored before and after fine-tuning (`--base-task-data`). */
  baseTaskData?: DatasetChoice;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  out: string;
  centralized: boolean;
  backend: BackendPreference;
  fraction: number;
  minParticipants?: number;
  roundTimeoutMs: number;
  strategy: string;
  strategyParams: Record<string, number | string>;
  /** The coordinator-side policy; the default policy when absent. */
  policy?: Policy;
  /** Client-level differential privacy: noise multiplier, clip norm, delta. */
  dp?: { noiseMultiplier: number; clipNorm: number; delta: number };
  secagg?: RoundRules['secagg'];
  adaptiveClip?: RoundRules['adaptiveClip'];
  /** Institutions that revoke their consent as a round opens. */
  revoke: { institution: string; round: number }[];
  /** The study's bound on update norms (rules.maxUpdateNorm); the default bound when absent. */
  maxUpdateNorm?: number;
  /** Malicious sites (`--byzantine ATTACK:COUNT`): the last institutions send the attack's update instead of their own. */
  byzantine?: ByzantineFlag[];
  /** Institutions as the data is split in the world (`--partition column:NAME`, several CSV files); they set the number of institutions. */
  natural?: NaturalPartition;
  /** CSV columns: ignored, chosen, categorical, missing tokens, the minimum count of a category. */
  tabular?: TabularOptions;
  /** Worker threads hosting the agents (0: one child process per agent); default: one per core above 20 institutions, else 0. */
  workers?: number;
  /** What the model predicts (absent: inferred from the label) and a binary label's positive value (see docs/tasks.md). */
  task?: Task;
  positive?: string;
  /** Binary and multilabel: the probability from which a prediction counts as positive in the final report; default 0.5. */
  threshold?: number;
  /** Local training terms: optimizer, momentum, weight decay, class weights (each absent: plain SGD, unweighted). */
  training?: Pick<TrainConfig, 'optimizer' | 'momentum' | 'weightDecay' | 'classWeight' | 'compress'>;
  out_stream?: NodeJS.WritableStream;
}

export interface Summary {
  config: Record<string, unknown>;
  rounds: RoundRow[];
  /**
   * The final model on the test set, for its task (see FinalReport: accuracy and the per-class report absent for
   * regression); with a natural partition also each institution's result on its own test rows.
   */
  final: FinalReport & { perInstitution?: InstitutionResult[] };
  /** The pooled baseline: accuracy and per-class report for classification and binary only. */
  centralized?: { accuracy?: number; loss: number; epochs: number; report?: Report['classes'] };
  /** The final model; `parameters` counts every tensor, `trainableParameters` those trained and sent each round (all of a preset's). */
  model: { version: number; digest: string; signature: string; path: string; parameters: number; trainableParameters: number };
  runtime: { wallMs: number; backend: string; coordinatorPeakRssMb: number; agents?: FleetPlacement };
  study: { manifestHash: string; policyHash: string };
  policy: { round: number; outcome: 'published' | 'withheld'; decisions: RuleDecision[] }[];
  consent: { revoked: { institution: string; fromRound: number }[] };
  privacy: {
    secureAggregation: boolean;
    budget: { epsilon: number; delta: number } | null;
    spent: { round: number; epsilon: number; delta: number }[];
  };
  lineage: Lineage;
  /** With --byzantine: who attacked, what the coordinator refused, and whether the final model survived. */
  byzantine?: ByzantineReport;
  /** With --base-task-data: the pretrained model's own task before and after federated fine-tuning. */
  forgetting?: ForgettingReport;
}

const FEDERATION = 'simulation';

/**
 * Runs one simulated federation end to end and writes the run folder.
 * @example const summary = await simulate({ ...defaults, out: 'runs/demo' })
 */
export async function simulate(options: SimulateOptions): Promise<Summary> {
  const startedAt = Date.now();
  const out = options.out_stream ?? process.stdout;
  const say = (text: string): void => void out.write(`${text}\n`);
  const dir = resolve(options.out);
  // A run folder holds one run: a second run into it would resume the finished federation and wait for rounds that never come.
  if (existsSync(join(dir, 'coordinator.db')))
    throw new Error(`--out ${options.out} already holds a run (coordinator.db): choose another folder or remove it`);
  const { resnet, file } = modelKind(options);
  const data = prepareData(
    options.dataset,
    file || resnet ? 'mlp' : (options.model as Arch),
    options.institutions,
    options.partition,
    options.seed,
    0.2,
    {
      ...(options.natural ? { natural: options.natural } : {}),
      ...(options.tabular ? { tabular: options.tabular } : {}),
      labels: {
        ...(options.task ? { task: options.task } : {}),
        ...(options.positive !== undefined ? { positive: options.positive } : {}),
      },
      ...(options.classes ? { classes: options.classes } : {}),
    },
  );
  // A natural partition decides how many institutions there are.
  const opts: SimulateOptions = data.institutionNames ? { ...options, institutions: data.sites.length } : options;
  // Everything that can refuse the run does so before the run folder exists.
  for (const r of opts.revoke) {
    if (!/^institution-\d+$/.test(r.institution) || Number(r.institution.slice(12)) > opts.institutions) {
      throw new Error(
        `--revoke ${r.institution}@${r.round}: the simulated institutions are institution-1 .. institution-${opts.institutions}`,
      );
    }
  }
  const attackers = assignAttackers(opts.byzantine ?? [], opts.institutions);
  const { tf, name: backend } = await selectBackend(opts.backend, () => undefined);
  const made = await federationModel(tf, opts, data, dir);
  const [user, probe] = [made?.user, made?.probe];
  const task = taskOf(user ? user.spec : data.spec);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const peak = trackPeakRss();

  const spec = user ? user.spec : data.spec;
  const base = user ? { base: user.user.base } : {};
  say(`Cohort simulation: ${opts.institutions} institutions, ${opts.rounds} rounds, ${describe(opts)} -> ${dir}`);
  for (const line of made?.lines ?? []) say(line);
  if (opts.secagg)
    say(
      `secure aggregation: ${opts.secagg.graph === 'harary' ? 'SecAgg+ (Harary graph)' : 'complete graph'}, the coordinator sees only the sum of each round's updates${opts.dp ? '; DP noise added by the sites before masking' : ''}`,
    );
  if (opts.adaptiveClip)
    say(
      `adaptive clipping: the DP clip norm follows the ${opts.adaptiveClip.targetQuantile} quantile of update norms, starting at ${opts.dp?.clipNorm}`,
    );
  if (data.institutionNames) {
    const what =
      opts.natural?.kind === 'column' ? `one per value of column "${opts.natural.column}" (never a feature)` : 'one per CSV file';
    say(
      `Institutions: ${data.sites.length}, ${what}${options.institutions !== data.sites.length ? ` (the --institutions value, ${options.institutions}, does not apply)` : ''}: ${data.institutionNames.map((name, i) => `institution-${i + 1} = ${name}`).join(', ')}.`,
    );
    say(
      `Data: ${data.all.n} rows; each institution keeps a seeded 20% of its own rows as its test rows (${data.test.length} in all), which no agent trains on.`,
    );
  } else {
    say(
      `Data: ${data.all.n} rows, ${data.train.length} shared out among the institutions, ${data.test.length} held out as a test set no agent sees.`,
    );
  }
  if (spec.preprocessing) say(describePreprocessing(spec, data.dropped ?? []));
  for (const [i, attack] of [...attackers].sort((a, b) => a[0] - b[0]))
    say(`institution-${i + 1} is malicious: it sends ${attack} instead of its update`);
  say(
    `Task: ${task}${task === 'binary' ? ` (positive class "${data.spec.classes[1]}")` : task === 'classification' ? '' : ` (${data.spec.classes.join(', ')})`}${opts.task ? '' : ', inferred from the label (--task to choose)'}.`,
  );
  if (task === 'classification' || task === 'binary') {
    say(`Partition ${opts.partitionText} (rows per class at each institution):`);
    say(partitionSummary(data.all.y, data.sites, data.all.classes));
  } else {
    say(`Partition ${opts.partitionText}: ${data.sites.map((rows) => rows.length).join(', ')} rows per institution.`);
  }

  const testSet = selectRows(data.all, data.test);

  const keys = join(dir, 'keys');
  const coordinatorIdentity = generateIdentity('coordinator');
  writeIdentityFile(join(keys, 'coordinator.key.json'), coordinatorIdentity, { force: true });
  writePublicIdentityFile(join(keys, 'coordinator.pub.json'), publicIdentityOf(coordinatorIdentity));
  const sites = data.sites.map((_, i) => generateIdentity(`institution-${i + 1}`));
  sites.forEach((id) => writeIdentityFile(join(keys, `${id.id}.key.json`), id, { force: true }));

  const store = openSqliteStore(join(dir, 'coordinator.db'));
  const coordinator = await createCoordinator({
    store,
    dataDir: dir,
    identity: coordinatorIdentity,
    modelRunner: createModelRunner(),
    federation: {
      id: FEDERATION,
      name: `simulation ${describe(opts)}`.slice(0, 200), // the setup's limits: long data paths are cut
      spec,
      study: {
        title: `Simulated federation: ${describe(opts)}`.slice(0, 300),
        purpose:
          'Research simulation of federated training on a public data set, to study strategies and data heterogeneity before a deployment.',
        dataCategories: [dataCategory(opts.dataset)],
      },
      policy: opts.policy ?? simulationPolicy(opts, Math.min(...data.sites.map((rows) => rows.length))),
      rules: {
        strategy: opts.strategy,
        strategyParams: opts.strategyParams,
        ...(opts.dp ? { dp: opts.dp } : {}),
        ...(opts.secagg ? { secagg: opts.secagg } : {}),
        ...(opts.adaptiveClip ? { adaptiveClip: opts.adaptiveClip } : {}),
        ...(opts.maxUpdateNorm !== undefined ? { maxUpdateNorm: opts.maxUpdateNorm } : {}),
        rounds: opts.rounds,
        minParticipants: opts.minParticipants ?? Math.min(opts.institutions, Math.max(1, Math.ceil(opts.institutions / 2))),
        fraction: opts.fraction,
        joinGraceMs: 15_000,
        roundTimeoutMs: opts.roundTimeoutMs,
        train: { localEpochs: opts.localEpochs, batchSize: opts.batchSize, learningRate: opts.learningRate, ...opts.training },
        seed: opts.seed,
      },
    },
    institutions: sites.map(publicIdentityOf),
    ...(user ? { userModel: user.keep } : {}),
    log: pino({ name: 'coordinator' }, destination({ dest: join(dir, 'logs', 'coordinator.log'), sync: true })),
  });

  const fed = store.getFederation(FEDERATION)!;
  say(
    `Study "${fed.manifest.title}": manifest ${fed.manifestHash.slice(0, 16)}…, policy v${fed.policy.version} ${fed.policyHash.slice(0, 16)}…; each institution signs its own consent.`,
  );
  const siteDir = (id: string): string => join(dir, 'sites', id);
  sites.forEach((site) => grantSimulatedConsent(site, fed.manifest, join(siteDir(site.id), 'consent.json'), opts.institutions));
  const progress = createRoundProgress({ rounds: opts.rounds, out });
  const policyLog: Summary['policy'] = [];
  const privacyLog: { round: number; epsilon: number; delta: number }[] = [];
  const revoked: Summary['consent']['revoked'] = [];
  const rows: RoundRow[] = [];
  let fleet: AgentFleet | undefined;
  let placement: FleetPlacement | undefined;
  let evaluations: Promise<unknown> = Promise.resolve();
  let finalEval: ({ version: number } & Evaluation) | undefined;
  const roundStarts = new Map<number, number>();
  const trained = new Map<number, number>();

  const { runner } = coordinator;
  /** Messages wait behind the test-set evaluations, so they print in round order with the rows. */
  const note = (text: string): void => {
    evaluations = evaluations.then(() => progress.message(text));
  };
  runner.on('round:started', ({ round, participants }) => {
    roundStarts.set(round, Date.now());
    progress.roundStarted(round, participants.length);
  });
  runner.on('update:accepted', ({ round }) => {
    trained.set(round, (trained.get(round) ?? 0) + 1);
    progress.update(round, { note: `${trained.get(round)} updates in` });
  });
  const refusals: Refusal[] = [];
  const accepted: { round: number; institution: string }[] = [];
  runner.on('update:refused', ({ round, institution, code }) => refusals.push({ round, institution, code }));
  runner.on('update:accepted', ({ round, institution }) => accepted.push({ round, institution }));
  runner.on('update:refused', ({ round, institution, code, message }) =>
    note(`round ${round}: update from ${institution} refused (${code}): ${message}`),
  );
  runner.on('participant:dropped', ({ round, institution, reason }) => note(`round ${round}: ${institution} dropped: ${reason}`));
  runner.on('round:failed', ({ round, reason }) => note(`round ${round} failed: ${reason}`));
  // A site with too few rows for a validation split declines every evaluation: one line per round, not one per site.
  const noValidation = new Map<number, number>();
  runner.on('participant:declined', ({ round, institution, code }) => {
    if (code === 'NO_VALIDATION_DATA') noValidation.set(round, (noValidation.get(round) ?? 0) + 1);
    else note(`round ${round}: ${institution} declined (${code})`);
  });
  runner.on('round:decided', ({ round }) => {
    const n = noValidation.get(round);
    if (n)
      note(`round ${round}: ${n} institution${n === 1 ? '' : 's'} keep no validation rows and declined to evaluate (NO_VALIDATION_DATA)`);
  });
  runner.on('consent:revoked', (r) => {
    revoked.push(r);
    note(`${r.institution} revoked its consent: excluded from round ${r.fromRound} on`);
  });
  runner.on('round:decided', ({ round, decisions, published }) => {
    policyLog.push({ round, outcome: published ? 'published' : 'withheld', decisions });
    note(`round ${round} policy: ${describeDecisions(decisions, published)}`);
  });
  const revokeAt = new Map(opts.revoke.map((r) => [r.round, r.institution]));
  const triggerRevocations = (closedRound: number): void => {
    const institution = revokeAt.get(closedRound + 1);
    if (institution) fleet?.revoke(institution, `simulated revocation (--revoke ${institution}@${closedRound + 1})`);
  };
  runner.on('round:published', ({ round }) => triggerRevocations(round));
  runner.on('round:withheld', ({ round }) => triggerRevocations(round));
  runner.on('round:failed', ({ round }) => triggerRevocations(round));
  runner.on('round:published', ({ round, metrics }) => {
    if (metrics.epsilon !== undefined) {
      privacyLog.push({ round, epsilon: metrics.epsilon, delta: metrics.delta as number });
      note(
        `round ${round} privacy: epsilon spent so far ${metrics.epsilon.toFixed(3)} (delta ${metrics.delta}) of the study's ${fed.manifest.privacy.dp?.epsilon.toFixed(3)}`,
      );
    }
  });
  runner.on('round:published', ({ round, version, metrics }) => {
    const durationMs = Date.now() - (roundStarts.get(round) ?? Date.now());
    evaluations = evaluations.then(async () => {
      const { weights, spec: modelSpec } = readModel(coordinator, dir, version);
      const ev = await evaluate({ tf, spec: modelSpec, weights, data: testSet, threshold: opts.threshold ?? 0.5, ...base });
      finalEval = { version, ...ev };
      const row: RoundRow = {
        round,
        participants: metrics.participants,
        loss: ev.loss,
        accuracy: ev.accuracy,
        trainLoss: metrics.trainLoss,
        ...(metrics.valAccuracy !== undefined ? { valAccuracy: metrics.valAccuracy } : {}),
        samples: metrics.samples,
        durationMs,
        ...(ev.scores.valAuc !== undefined ? { auc: ev.scores.valAuc } : {}),
        ...(ev.scores.valR2 !== undefined ? { r2: ev.scores.valR2 } : {}),
      };
      rows.push(row);
      progress.roundDone(row);
    });
  });

  const outcome = new Promise<'complete' | string>((resolveOutcome) => {
    runner.once('federation:complete', () => resolveOutcome('complete'));
    runner.once('federation:failed', ({ reason }) => resolveOutcome(reason));
  });

  try {
    const agents = data.agents.map(({ ref: dataRef, rows: rowsOfSite }, i) => {
      const site = sites[i]!;
      const config: AgentProcessConfig = {
        url: coordinator.url,
        federation: FEDERATION,
        keyFile: join(keys, `${site.id}.key.json`),
        coordinatorPublicFile: join(keys, 'coordinator.pub.json'),
        data: { ref: dataRef, rows: rowsOfSite },
        backend: opts.backend,
        seed: opts.seed * 1000 + i,
        logFile: join(dir, 'logs', `${site.id}.log`),
        consentFile: join(siteDir(site.id), 'consent.json'),
        auditLog: join(siteDir(site.id), 'audit.jsonl'),
        ...(user ? { modelFile: user.user.path } : {}),
        ...(attackers.has(i) ? { byzantine: attackers.get(i) as string } : {}),
      };
      return { id: site.id, config };
    });
    const workers = resolveWorkers(opts.workers, opts.institutions);
    fleet = startAgentFleet({
      sites: agents,
      workers,
      logDir: join(dir, 'logs'),
      onFatal: (id, message) => progress.message(`${id ?? 'a worker thread'} stopped: ${message}`),
    });
    placement = await fleet.started;

    const result = await outcome;
    await evaluations;
    progress.close();
    if (result !== 'complete') throw new Error(`the federation failed: ${result}`);
    if (!finalEval) throw new Error('no model was published');

    const { final, text } = finalReport(spec, testSet, finalEval, opts.threshold ?? 0.5);
    say('');
    say(`Final global model v${finalEval.version} on the held-out test set (${testSet.n} rows, ${task}):`);
    say(text);
    const plots = await taskPlots(spec, testSet, finalEval);
    let perInstitution: InstitutionResult[] | undefined;
    if (data.institutionTests) {
      const { weights, spec: modelSpec } = readModel(coordinator, dir, finalEval.version);
      perInstitution = await evaluateInstitutions({
        tf,
        spec: modelSpec,
        weights,
        ...base,
        all: data.all,
        tests: data.institutionTests,
        names: data.institutionNames ?? [],
      });
      say('');
      say(
        formatInstitutions(spec, perInstitution, {
          accuracy: Number.isFinite(finalEval.accuracy) ? finalEval.accuracy : null,
          loss: finalEval.loss,
          rows: testSet.n,
          scores: finalEval.scores,
        }),
      );
    }

    let centralized: Summary['centralized'];
    if (opts.centralized) {
      const epochs = opts.rounds * opts.localEpochs;
      say(`Centralized baseline: the same model on the pooled training rows, ${epochs} epochs ...`);
      const c = await trainCentralized({
        tf,
        spec,
        all: data.all,
        train: data.train,
        testSet,
        epochs,
        batchSize: opts.batchSize,
        learningRate: opts.learningRate,
        seed: opts.seed,
        ...(opts.training ? { training: opts.training } : {}),
        ...(user ? { initial: user.user.initial, ...base } : {}),
      });
      const classes = task === 'classification' || task === 'binary';
      centralized = {
        loss: c.loss,
        epochs,
        ...(classes ? { accuracy: c.accuracy, report: classificationReport(testSet.y, c.predicted, testSet.classes).classes } : {}),
      };
      say(
        task === 'regression'
          ? `Centralized loss (MSE) ${c.loss.toFixed(4)} vs federated ${finalEval.loss.toFixed(4)}.`
          : `Centralized accuracy ${c.accuracy.toFixed(4)} vs federated ${finalEval.accuracy.toFixed(4)} (gap ${(c.accuracy - finalEval.accuracy).toFixed(4)}).`,
      );
    }

    const forgetting = probe
      ? await probe.after(readModel(coordinator, dir, finalEval.version).weights, user?.user.headReplaced?.layer)
      : undefined;
    if (forgetting) say(`\n${formatForgetting(forgetting)}`);

    const byzantine =
      attackers.size > 0
        ? byzantineReport({ attackers, refusals, accepted, finalAccuracy: finalEval.accuracy, classes: testSet.classes })
        : undefined;
    if (byzantine) {
      say('');
      say(formatByzantine(byzantine));
    }
    const model = store.getModel(FEDERATION, finalEval.version)!;
    const finalLineage = lineage(store, FEDERATION, finalEval.version);
    say('');
    say(formatLineage(finalLineage));
    const summary: Summary = {
      config: { ...configOf(opts), spec, federation: FEDERATION, coordinatorUrl: coordinator.url },
      rounds: rows.map((row) => ({ ...row, uploadBytes: uploadBytes(store, row.round) })),
      final: { ...final, ...(perInstitution ? { perInstitution } : {}) },
      ...(centralized ? { centralized } : {}),
      model: {
        version: model.version,
        digest: model.digest,
        signature: model.signature,
        path: model.path,
        parameters: totalParameterCount(spec),
        trainableParameters: parameterCount(spec),
      },
      runtime: { wallMs: Date.now() - startedAt, backend, coordinatorPeakRssMb: Math.round(peak.stop() / 2 ** 20), agents: placement },
      study: { manifestHash: fed.manifestHash, policyHash: fed.policyHash },
      policy: policyLog,
      consent: { revoked },
      privacy: { secureAggregation: fed.manifest.privacy.secureAggregation, budget: fed.manifest.privacy.dp ?? null, spent: privacyLog },
      lineage: finalLineage,
      ...(byzantine ? { byzantine } : {}),
      ...(forgetting ? { forgetting } : {}),
    };
    writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(join(dir, 'rounds.csv'), roundsToCsv(rows));
    const svg = await plotRoundsSvg(rows, {
      title: `${opts.strategy}, ${opts.institutions} institutions, ${describe(opts)}`,
      ...(centralized?.accuracy !== undefined && task !== 'regression'
        ? { baseline: { accuracy: centralized.accuracy, label: 'centralized' } }
        : {}),
      ...(task === 'regression' ? { metric: 'r2' as const } : {}),
    });
    writeFileSync(join(dir, 'rounds.svg'), svg);
    for (const [name, plot] of Object.entries(plots)) writeFileSync(join(dir, name), plot);
    say(
      `Run folder: ${dir} (summary.json, rounds.csv, rounds.svg, ${Object.keys(plots)
        .map((p) => `${p}, `)
        .join('')}coordinator.db, ${model.path} and its .card.md, sites/, logs/)`,
    );
    say(`Check the audit trail: cohort audit verify --data-dir ${dir} --key ${join(keys, 'coordinator.pub.json')}`);
    say(
      `Wall time ${((Date.now() - startedAt) / 1000).toFixed(1)} s, backend ${backend}, peak RSS of the coordinator process ${summary.runtime.coordinatorPeakRssMb} MB${placement?.mode === 'worker-threads' ? ` (with the agents of its ${placement.workers} worker threads)` : ''}.`,
    );
    return summary;
  } finally {
    peak.stop();
    await fleet?.close();
    await coordinator.close();
    store.close();
  }
}

function readModel(coordinator: Coordinator, dir: string, version: number): { weights: NamedTensor[]; spec: ModelSpec } {
  const record = coordinator.store.getModel(coordinator.federation, version)!;
  const decoded = decodeTensors(loadModelFile(dir, record.path, record.digest));
  return {
    weights: decoded.tensors,
    spec: (decoded.meta.spec as ModelSpec | undefined) ?? coordinator.store.getFederation(coordinator.federation)!.spec,
  };
}

/**
 * The default policy for a simulation: rounds of at least 2 institutions (1 when there is only one),
 * and on IID data a fairness rule (a gap of at most 0.25 between the sites' validation accuracies).
 * Label-skewed and natural partitions make sites differ by design, so there the fairness rule is left to --policy; so it is
 * when the smallest site holds fewer than 200 rows (about 20 validation rows: fewer give accuracies too coarse to
 * compare, and sites of a few rows keep none, as with 1,000 institutions on MNIST).
 */
function simulationPolicy(opts: SimulateOptions, smallestSite: number): Policy {
  const comparable = !opts.natural && (opts.partition.kind === 'iid' || opts.partition.kind === 'quantity') && smallestSite >= 200;
  const fairness = comparable ? { fairness: { metric: 'valAccuracy' as const, maxGap: 0.25 } } : {};
  return defaultPolicy({ minInstitutionsPerRound: Math.min(2, opts.institutions), ...fairness });
}

/** One line per round: how many rules passed, and the failing ones or the fairness gap. */
function describeDecisions(decisions: RuleDecision[], published: boolean): string {
  const failed = decisions.filter((d) => !d.passed);
  const fairness = decisions.find((d) => d.rule === 'fairness');
  const head = `${decisions.length - failed.length}/${decisions.length} rules passed, ${published ? 'published' : 'WITHHELD'}`;
  if (failed.length > 0) return `${head}: ${failed.map((d) => `${d.rule} (${d.message})`).join('; ')}`;
  return fairness ? `${head} (fairness gap ${String(fairness.value)} <= ${String(fairness.limit)})` : head;
}

/** What the study tells the sites about the data: digits for MNIST, images for other IDX sets, records for a CSV. */
function dataCategory(ref: DatasetChoice): string {
  if (ref.kind === 'mnist' || ref.kind === 'mnist-full') return 'handwritten-digit-images';
  if (ref.kind === 'dicom') return 'medical-images';
  return ref.kind === 'idx' || ref.kind === 'images' ? 'images' : 'tabular-records';
}

/** One line: the model's features from the data dictionary (numeric, categorical, indicators) and the columns dropped. */
function describePreprocessing(spec: ModelSpec, dropped: { column: string; reason: string }[]): string {
  const columns = spec.preprocessing?.columns ?? [];
  const numeric = columns.filter((c) => c.type === 'number').length;
  const categorical = columns.filter((c) => c.type === 'category');
  const indicators = columns.filter((c) => c.missing).length;
  const head = `Data dictionary: ${columns.length} columns (${numeric} numeric, ${categorical.length} categorical: ${categorical.map((c) => `${c.name} ${c.categories.length}+other`).join(', ') || 'none'}), ${indicators} with missing cells (imputed with the pooled mean, plus an indicator) -> ${spec.features?.length ?? 0} model features`;
  return dropped.length > 0 ? `${head}; dropped: ${dropped.map((d) => `"${d.column}" (${d.reason})`).join(', ')}` : head;
}

function describe(opts: SimulateOptions): string {
  const model =
    isPreset(opts.model) || parseResNet(opts.model)
      ? opts.model
      : `user model ${basename(dirname(resolve(opts.model)))}/${basename(opts.model)}`; // a short name: the federation's name has 200 characters
  return `${formatDataRef(opts.dataset)}, ${model}, ${opts.partitionText}, E=${opts.localEpochs} B=${opts.batchSize} lr=${opts.learningRate}`;
}

/** The sealed bytes the sites sent in a round: every update's envelope, accepted or refused. */
function uploadBytes(store: Store, round: number): number {
  return store.listParticipations(FEDERATION, round).reduce((n, p) => n + (p.bytes ?? 0), 0);
}

function configOf(opts: SimulateOptions): Record<string, unknown> {
  const { out_stream: _s, partition: _p, policy: _policy, natural: _n, partitionText, baseTaskData, ...rest } = opts;
  return { ...rest, partition: partitionText, ...(baseTaskData ? { baseTaskData: formatDataRef(baseTaskData) } : {}) };
}

function trackPeakRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

export type { Dataset, TF };
