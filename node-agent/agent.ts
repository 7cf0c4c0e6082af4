/** A node agent: checks every task against its own consent and the coordinator's signature, trains or evaluates on private rows, returns sealed results. */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import {
  CohortError,
  EvaluateTaskSchema,
  FederationCompleteSchema,
  FederationFailedSchema,
  RoundClosedSchema,
  RoundTaskSchema,
  decodeTensors,
  encodeTensors,
  parameterCount,
  SecAggKeysSchema,
  SecAggSharesSchema,
  SecAggUnmaskRequestSchema,
  SecAggConsistencyRequestSchema,
  toCohortError,
  type EvaluateTask,
  type EvaluationReport,
  type FederationComplete,
  type LocalMetrics,
  type ModelSpec,
  type NamedTensor,
  type RoundClosed,
  type RoundTask,
  type SignedConsent,
  type SignedRevocation,
  type TrainConfig,
  type UpdateMeta,
  type Welcome,
} from '../protocol/index.js';
import { sealEnvelope, type Identity, type PublicIdentity } from '../crypto/index.js';
import { featureStats } from './data/index.js';
import { backendForSpec, evaluate, selectBackend, trainLocal, type BackendPreference, type SelectedBackend } from './train/index.js';
import { createSiteBase } from './site-base.js';
import type { DataSource } from './data-source.js';
import { siteData } from './site-data.js';
import { checkSignedModel } from './model-check.js';
import { checkTask, readConsentState } from './mods/consent-guard.js';
import { clipUpdate } from './mods/dp-clip.js';
import { siteNoiseStd } from './mods/dp-terms.js';
import { chargeContribution, dpRefusal } from './mods/privacy-budget.js';
import { SiteSecAgg } from './mods/secure-aggregation.js';
import { checkSecAggTerms } from './mods/secagg-terms-guard.js';
import type { UpdateTransform } from './mods/byzantine.js';
import { openAgentAuditLog, type AgentAuditLog } from './audit-log.js';
import { connect, type AgentSocket } from './transport/connection.js';
import { uploadUpdate } from './transport/upload.js';
import { attachStats, type Table } from './analytics/index.js';

export interface AgentOptions {
  coordinatorUrl: string;
  federation: string;
  identity: Identity;
  /** The coordinator's public identity (its signing key pins the server; its box key is what updates are sealed to). */
  coordinator: PublicIdentity;
  data: DataSource;
  /** The institution's signed consent (a revocation is read from `<name>.revocation.json` beside it, at every task). */
  consentFile?: string;
  /** The agent's own audit log (JSON Lines, hash-chained, signed with the institution key); none when absent. */
  auditLog?: string;
  backend?: BackendPreference;
  /** Share of the site's rows kept aside (fixed across rounds) for validation metrics. */
  valFraction?: number;
  seed?: number;
  log?: Logger;
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Simulations only: what a Byzantine site sends instead of its trained weights (node-agent/mods/byzantine.ts),
   * applied as the last step before sealing, so the coordinator receives it as an ordinary signed update.
   */
  transformUpdate?: UpdateTransform;
  /** Replaces local training (load tests, benches): the update it returns is still clipped, sealed and uploaded as usual. */
  trainer?: CustomTrainer;
  /**
   * The site's copy of a user model (model.json of a TF.js Layers model): where its frozen (and FedBN-local initial)
   * tensors come from. Checked against the federation spec's `layers.baseHash` at welcome and before every task.
   */
  modelFile?: string;
  /** The site's table for analytics queries (node-agent/analytics): answered when the consent allows analytics; refused when absent. */
  statsTable?: () => Table;
}

/**
 * A stand-in for local training: gets the global weights, returns the weights to send.
 * @example const trainer: CustomTrainer = async ({ weights, samples }) => ({ weights, trainSamples: samples, metrics: { trainLoss: 0, trainAccuracy: 0, epochs: 1, durationMs: 0 } })
 */
export type CustomTrainer = (input: {
  round: number;
  spec: ModelSpec;
  weights: NamedTensor[];
  config: TrainConfig;
  samples: number;
}) => Promise<{ weights: NamedTensor[]; metrics: LocalMetrics; trainSamples: number }>;

export interface AgentEventMap {
  welcome: [Welcome];
  task: [{ round: number; version: number }];
  epoch: [{ round: number; epoch: number; loss: number; accuracy: number }];
  trained: [{ round: number; metrics: LocalMetrics; samples: number }];
  uploaded: [{ round: number; digest: string; bytes: number }];
  /** valAccuracy is absent for regression (its loss is the MSE). */
  evaluated: [{ round: number; valLoss: number; valAccuracy?: number; valSamples: number }];
  refused: [{ round: number; code: string; message: string }];
  declined: [{ round: number; code: string; message: string }];
  'round:closed': [RoundClosed];
  complete: [FederationComplete];
}

export interface Agent {
  readonly events: EventEmitter<AgentEventMap>;
  readonly socket: AgentSocket;
  /** Resolves once connected, authenticated and ready for tasks; rejects on a fatal refusal. */
  readonly ready: Promise<void>;
  /** Resolves when the coordinator announces the federation complete; rejects on a fatal error, or FEDERATION_FAILED when it announces the federation failed. */
  readonly done: Promise<FederationComplete>;
  /** Tells the coordinator now that the institution revoked its consent (the agent refuses tasks either way). */
  presentRevocation(revocation: SignedRevocation): Promise<void>;
  close(): void;
}

/**
 * Starts an agent.
 * @example const agent = createAgent({ coordinatorUrl, federation, identity, coordinator, data: mnistSource(rows), consentFile }); await agent.done;
 */
export function createAgent(opts: AgentOptions): Agent {
  const log = opts.log ?? pino({ name: `agent:${opts.identity.id}` });
  const events = new EventEmitter<AgentEventMap>();
  const data = siteData(opts.data, opts.valFraction ?? 0.1, opts.seed ?? 0);
  const audit: AgentAuditLog = opts.auditLog
    ? openAgentAuditLog(opts.auditLog, opts.identity, opts.federation)
    : { append: () => undefined };
  const consent = () => readConsentState(opts.consentFile, opts.identity.signPublicKey);
  const logBackend = (m: string, level: 'debug' | 'info' | 'warn' = 'info') => log[level](m);
  let welcome: Welcome | undefined;
  let backend: SelectedBackend | undefined;
  const siteBase = createSiteBase(opts.modelFile);
  let busy: Promise<void> = Promise.resolve();
  let revocationPresented = false;
  /** Rounds whose task this agent took: a copy sent again after a reconnect is not trained twice. */
  const taken = new Set<number>();
  let sessionReady = deferred<void>();
  sessionReady.promise.catch(() => undefined);
  const ready = deferred<void>();
  const done = deferred<FederationComplete>();
  done.promise.catch(() => undefined);
  ready.promise.catch(() => undefined);

  const socket = connect({
    url: opts.coordinatorUrl,
    federation: opts.federation,
    identity: opts.identity,
    coordinatorSignPublicKey: opts.coordinator.signPublicKey,
    socketOptions: opts.socketOptions,
    log: (level, msg) => log[level](msg),
    onFatal: (err) => {
      log.error({ code: err.code }, err.message);
      ready.reject(err);
      done.reject(err);
      sessionReady.reject(err);
    },
    onWelcome: (msg) => {
      welcome = msg;
      void (async () => {
        try {
          backend ??= await selectBackend(opts.backend ?? 'auto', logBackend);
          if (msg.spec.layers) await siteBase.tensors(backend.tf, msg.spec); // a site without the study's base model cannot work: say so now
          const rows = data.load(msg.spec);
          const stats = msg.spec.features ? featureStats(rows.all) : undefined;
          const { consent: signed, revocation } = consent();
          revocationPresented = revocation !== undefined;
          const res = await socket
            .timeout(15_000)
            .emitWithAck('agent:ready', { samples: rows.train.n, backend: backend.name, featureStats: stats, consent: signed, revocation })
            .catch((err: Error) => err);
          if (res instanceof Error || (!res.ok && res.error.code === 'UNAVAILABLE')) {
            // No answer in time (a busy coordinator), or it cannot store anything now: present ourselves again on a
            // new connection, with the usual backoff (uploads wait for that session rather than hang on this one).
            log.warn(`ready not taken (${res instanceof Error ? res.message : res.error.message}); reconnecting`);
            return void socket.io.engine.close();
          }
          if (!res.ok) throw new CohortError(res.error.code, res.error.message);
          if (!signed)
            log.warn(
              'no consent presented: the coordinator will not select this institution and every task is refused (sign one with `cohort consent grant`)',
            );
          audit.append('session.ready', {
            samples: rows.train.n,
            consentPresented: signed !== undefined,
            revoked: revocation !== undefined,
            manifestHash: signed?.body.manifestHash ?? null,
          });
          log.info(
            {
              samples: rows.train.n,
              validation: rows.val?.n ?? 0,
              backend: backend.name,
              data: opts.data.description,
              consent: signed ? 'presented' : 'none',
            },
            'ready for tasks',
          );
          events.emit('welcome', msg);
          sessionReady.resolve();
          ready.resolve();
        } catch (cause) {
          const err = toCohortError(cause);
          log.error({ code: err.code }, `cannot get ready: ${err.message}`);
          ready.reject(err);
          done.reject(err);
        }
      })();
    },
  });

  socket.on('disconnect', (reason) => {
    log.warn({ reason }, 'disconnected from the coordinator');
    // A session that never got ready keeps its promise, so whatever waits on it (an upload) resumes with the next one.
    if (sessionReady.settled) {
      sessionReady = deferred<void>();
      sessionReady.promise.catch(() => undefined);
    }
  });
  // Validated like every inbound message: a malformed "complete" must not end the agent.
  socket.on('round:closed', (raw) => {
    const parsed = RoundClosedSchema.safeParse(raw);
    if (!parsed.success) return void log.warn('malformed round:closed ignored');
    events.emit('round:closed', parsed.data);
  });
  socket.on('federation:complete', (raw) => {
    const parsed = FederationCompleteSchema.safeParse(raw);
    if (!parsed.success) return void log.warn('malformed federation:complete ignored');
    const msg = parsed.data;
    log.info(msg, 'federation complete');
    audit.append('federation.complete', { ...msg });
    events.emit('complete', msg);
    done.resolve(msg);
  });
  socket.on('federation:failed', (raw) => {
    const parsed = FederationFailedSchema.safeParse(raw);
    if (!parsed.success) return void log.warn('malformed federation:failed ignored');
    const { reason } = parsed.data;
    log.error(`federation failed: ${reason}`);
    audit.append('federation.failed', { reason });
    const err = new CohortError('FEDERATION_FAILED', `federation ${opts.federation} failed: ${reason}`);
    ready.reject(err);
    done.reject(err);
  });
  // Secure aggregation's key exchange runs beside training, so its messages are handled at once, not queued behind it.
  let secure: SiteSecAgg | undefined;
  const forRound = (round: number) => (secure && secure.round === round ? secure : undefined);
  const inbound =
    <T extends { round: number }>(
      schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
      handle: (s: SiteSecAgg, msg: T) => Promise<void> | void,
    ) =>
    (raw: unknown) => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) return log.warn('malformed secure-aggregation message ignored');
      const session = forRound(parsed.data.round);
      if (session)
        void Promise.resolve(handle(session, parsed.data)).catch((err: Error) =>
          log.warn(`secure aggregation step failed: ${err.message}`),
        );
    };
  socket.on(
    'secagg:keys',
    inbound(SecAggKeysSchema, (session, msg) => session.onKeys(msg)),
  );
  socket.on(
    'secagg:shares',
    inbound(SecAggSharesSchema, (session, msg) => session.onShares(msg)),
  );
  socket.on(
    'secagg:consistency-request',
    inbound(SecAggConsistencyRequestSchema, (session, msg) => session.onConsistency(msg)),
  );
  socket.on(
    'secagg:unmask-request',
    inbound(SecAggUnmaskRequestSchema, (session, msg) => session.onUnmask(msg)),
  );
  const sendSecAgg = async (
    event: 'secagg:advertise' | 'secagg:share-keys' | 'secagg:consistency' | 'secagg:unmask',
    msg: object,
  ): Promise<void> => {
    const res = await (
      socket.timeout(15_000).emitWithAck as (e: string, m: object) => Promise<{ ok: boolean; error?: { code: string; message: string } }>
    )(event, msg);
    if (!res.ok) throw new CohortError((res.error?.code ?? 'INTERNAL') as CohortError['code'], res.error?.message ?? 'refused');
  };

  attachStats(socket, { ...opts, consent, study: () => welcome?.study, table: opts.statsTable }, audit, (m) => log.info(m));

  socket.on('round:task', (raw) => {
    busy = busy.then(() => runTask(raw)).catch((err: unknown) => log.error({ err }, 'task failed'));
  });
  socket.on('round:evaluate', (raw) => {
    busy = busy.then(() => runEvaluation(raw)).catch((err: unknown) => log.error({ err }, 'evaluation failed'));
  });

  const decline = async (round: number, code: string, message: string): Promise<void> => {
    log.warn({ round, code }, `declining: ${message}`);
    audit.append('task.refused', { round, code, message });
    events.emit('declined', { round, code, message });
    await socket
      .timeout(15_000)
      .emitWithAck('round:decline', { round, code, message })
      .catch(() => undefined);
  };

  /** Signature, then consent: the reason to refuse a task, or null to run it. */
  const refusal = (task: RoundTask | EvaluateTask): { code: string; message: string } | null =>
    checkSignedModel(task.model, opts.federation, opts.coordinator.signPublicKey) ?? consentRefusal(task);

  /** Consent alone (the model's signature was checked when the task arrived): the reason to refuse, or null. */
  const consentRefusal = (task: RoundTask | EvaluateTask): { code: string; message: string } | null => {
    let state;
    try {
      state = consent();
    } catch (err) {
      return { code: 'CONSENT_MISSING', message: (err as Error).message };
    }
    if (state.revocation && !revocationPresented) {
      // Revoked at the site (cohort consent revoke) since the session began: tell the coordinator, signed.
      revocationPresented = true;
      void api.presentRevocation(state.revocation).catch((err: Error) => log.warn(`revocation not delivered: ${err.message}`));
    }
    const verdict = checkTask(state, {
      manifest: task.study,
      use: task.use,
      round: task.round,
      modelVersion: task.model.version,
      participants: task.participants,
      spec: task.model.spec,
      privacy: task.privacy,
      training: task.use === 'training' ? task.config : undefined,
    });
    return verdict.ok ? null : verdict;
  };

  async function runTask(raw: unknown): Promise<void> {
    const parsed = RoundTaskSchema.safeParse(raw);
    if (!parsed.success) {
      log.error({ issues: parsed.error.issues.slice(0, 3) }, 'malformed task ignored');
      return;
    }
    const task = parsed.data;
    const { model } = task;
    const refused =
      task.federation === opts.federation
        ? refusal(task)
        : { code: 'WRONG_FEDERATION', message: `task for federation ${task.federation}, this agent serves ${opts.federation}` };
    if (refused) return decline(task.round, refused.code, refused.message);
    if (taken.has(task.round)) return void log.info({ round: task.round }, 'task already taken for this round');
    // The study's DP terms and this site's own budget, before any training (refusal() found a consent file).
    const signedConsent = consent().consent;
    const overBudget = signedConsent
      ? dpRefusal(task, opts.consentFile as string, signedConsent)
      : { code: 'CONSENT_MISSING', message: 'the consent file is gone' };
    if (overBudget) return decline(task.round, overBudget.code, overBudget.message);
    taken.add(task.round);
    if (task.privacy.secureAggregation && !task.secagg) {
      return decline(
        task.round,
        'PRIVACY_MISMATCH',
        'the study promises secure aggregation but this task does not run it: the update would reach the coordinator unmasked',
      );
    }
    secure = undefined;
    if (task.secagg) {
      const terms = checkSecAggTerms(task.secagg, task.study, {
        federation: opts.federation,
        round: task.round,
        vectorLength: parameterCount(model.spec),
      });
      if (!terms.ok) return decline(task.round, terms.code, terms.message);
      try {
        secure = new SiteSecAgg({
          federation: opts.federation,
          round: task.round,
          terms: task.secagg,
          // Derived from the signed study terms (dpRefusal checked the task's noiseStd against it), never taken from the task.
          noiseStd: task.study.privacy.dp ? siteNoiseStd(task.study.privacy.dp, task.secagg.threshold) : 0,
          vectorLength: parameterCount(model.spec),
          identity: opts.identity,
          send: sendSecAgg,
          log: (level, m) => log[level](m),
        });
        await secure.start();
      } catch (cause) {
        const err = toCohortError(cause);
        return decline(task.round, 'SECAGG_FAILED', `cannot join the round's secure aggregation: ${err.message}`);
      }
    }
    let base: NamedTensor[] | undefined;
    try {
      base = model.spec.layers
        ? await siteBase.tensors((backend ?? (await selectBackend(opts.backend ?? 'auto'))).tf, model.spec)
        : undefined;
    } catch (cause) {
      taken.delete(task.round);
      const err = toCohortError(cause);
      return decline(task.round, err.code === 'INTERNAL' ? 'MODEL_BASE_MISMATCH' : err.code, err.message);
    }
    events.emit('task', { round: task.round, version: model.version });
    log.info({ round: task.round, version: model.version }, 'training round');
    try {
      const rows = data.load(model.spec);
      const runOn = async () => backendForSpec(model.spec, backend ?? (await selectBackend(opts.backend ?? 'auto')), logBackend);
      // refusal() verified the frame's digest and the coordinator's signature over it: no second hash here.
      const global = decodeTensors(model.weights, { authenticated: true }).tensors;
      const result = opts.trainer
        ? await opts.trainer({ round: task.round, spec: model.spec, weights: global, config: task.config, samples: rows.train.n })
        : await trainLocal({
            tf: (await runOn()).tf,
            spec: model.spec,
            weights: global,
            data: rows.train,
            config: task.config,
            ...(base ? { base } : {}),
            valFraction: 0,
            seed: (opts.seed ?? 0) * 100_003 + task.round,
            augmentBatch: opts.data.augment, // image sources only
            onEpoch: (epoch, logs) => {
              log.info({ round: task.round, epoch, of: task.config.localEpochs, ...logs }, 'epoch');
              events.emit('epoch', { round: task.round, epoch, ...logs });
            },
          });
      const metrics: LocalMetrics = { ...result.metrics };
      const local = (result as { local?: NamedTensor[] }).local;
      if (local) siteBase.keepLocal(local); // FedBN: this site's own BatchNorm tensors, kept for the next round
      let weights = result.weights;
      if (task.config.dpClipNorm !== undefined) {
        const clipped = clipUpdate(global, result.weights, task.config.dpClipNorm);
        weights = clipped.weights;
        if (task.config.dpReportClip) metrics.withinClip = clipped.norm <= task.config.dpClipNorm ? 1 : 0;
        log.info(
          { round: task.round, updateNorm: clipped.norm, clipNorm: task.config.dpClipNorm, factor: clipped.factor },
          'update clipped for differential privacy',
        );
      }
      if (opts.transformUpdate) weights = opts.transformUpdate({ round: task.round, global, trained: weights });
      if (rows.val) {
        const v = await evaluate({
          tf: (await runOn()).tf,
          spec: model.spec,
          weights,
          data: rows.val,
          ...(base ? { base: siteBase.current(model.spec) } : {}),
        });
        Object.assign(metrics, { valLoss: v.loss, ...v.scores, valSamples: rows.val.n });
      }
      events.emit('trained', { round: task.round, metrics, samples: result.trainSamples });
      // Consent is read again right before sealing: a revocation written while training (or an approval that expired)
      // keeps the update at the site, and the coordinator is told (consentRefusal() presents a new revocation).
      const withdrawn = consentRefusal(task);
      if (withdrawn) {
        audit.append('update.dropped', { round: task.round, code: withdrawn.code, message: withdrawn.message });
        return await decline(task.round, withdrawn.code, `update not sent: ${withdrawn.message}`);
      }
      const meta: UpdateMeta = {
        kind: secure ? 'masked' : 'weights',
        federation: opts.federation,
        round: task.round,
        institution: opts.identity.id,
        baseVersion: model.version,
        samples: result.trainSamples,
        metrics,
      };
      const charge = chargeContribution(task, opts.consentFile as string, signedConsent as SignedConsent);
      if (charge) {
        audit.append('privacy.charged', { ...charge });
        log.info(charge, 'privacy ledger charged for this update');
      }
      const envelope = sealEnvelope({
        payload: secure
          ? await secure.maskedPayload({
              global,
              trained: weights,
              weight: task.config.dpClipNorm !== undefined ? 1 : result.trainSamples,
              meta,
              deadline: task.deadline,
            })
          : encodeTensors(weights, meta),
        context: { federation: opts.federation, round: task.round, institution: opts.identity.id },
        recipientBoxPublicKey: opts.coordinator.boxPublicKey,
        senderSignSecretKey: opts.identity.signSecretKey,
      });
      const chunkBytes = welcome?.chunkBytes ?? 512 * 1024;
      const { digest } = await uploadUpdate(socket, envelope, {
        round: task.round,
        chunkBytes,
        whenSessionReady: () => sessionReady.promise,
      });
      audit.append('update.sent', {
        round: task.round,
        baseVersion: model.version,
        digest,
        bytes: envelope.length,
        samples: result.trainSamples,
      });
      log.info({ round: task.round, digest, bytes: envelope.length }, 'update accepted');
      events.emit('uploaded', { round: task.round, digest, bytes: envelope.length });
    } catch (cause) {
      const err = toCohortError(cause);
      taken.delete(task.round); // a copy of the task sent again may try once more
      audit.append('update.failed', { round: task.round, code: err.code, message: err.message });
      log.error({ round: task.round, code: err.code }, `update not delivered: ${err.message}`);
      events.emit('refused', { round: task.round, code: err.code, message: err.message });
    }
  }

  /** Measures a candidate model on the site's fixed validation rows and reports the numbers (never rows). */
  async function runEvaluation(raw: unknown): Promise<void> {
    const parsed = EvaluateTaskSchema.safeParse(raw);
    if (!parsed.success) {
      log.error({ issues: parsed.error.issues.slice(0, 3) }, 'malformed evaluation task ignored');
      return;
    }
    const task = parsed.data;
    const refused = refusal(task);
    if (refused) return decline(task.round, refused.code, refused.message);
    const rows = data.load(task.model.spec);
    if (!rows.val)
      return decline(task.round, 'NO_VALIDATION_DATA', 'this site keeps no validation rows (--val-fraction 0 or too few rows)');
    const run = await backendForSpec(task.model.spec, backend ?? (await selectBackend(opts.backend ?? 'auto')), logBackend);
    let base: NamedTensor[] | undefined;
    try {
      base = task.model.spec.layers ? await siteBase.tensors(run.tf, task.model.spec) : undefined;
    } catch (cause) {
      return decline(task.round, 'MODEL_BASE_MISMATCH', toCohortError(cause).message);
    }
    const v = await evaluate({
      tf: run.tf,
      spec: task.model.spec,
      weights: decodeTensors(task.model.weights, { authenticated: true }).tensors,
      data: rows.val,
      ...(base ? { base } : {}),
    });
    const report: EvaluationReport = { round: task.round, valLoss: v.loss, ...v.scores, valSamples: rows.val.n };
    const res = await socket
      .timeout(15_000)
      .emitWithAck('round:evaluation', report)
      .catch((err: Error) => ({ ok: false as const, error: { code: 'INTERNAL' as const, message: err.message } }));
    audit.append('evaluation.sent', { ...report, candidateDigest: task.model.digest, accepted: res.ok });
    if (res.ok) events.emit('evaluated', { round: task.round, valLoss: v.loss, ...v.scores, valSamples: rows.val.n });
    else log.warn({ round: task.round, code: res.error.code }, `evaluation not accepted: ${res.error.message}`);
  }

  const api: Agent = {
    events,
    socket,
    ready: ready.promise,
    done: done.promise,
    async presentRevocation(revocation) {
      revocationPresented = true;
      audit.append('consent.revoked', { consentHash: revocation.body.consentHash, reason: revocation.body.reason });
      await sessionReady.promise;
      const res = await socket.timeout(15_000).emitWithAck('consent:revoke', { revocation });
      if (!res.ok) throw new CohortError(res.error.code, res.error.message);
    },
    close() {
      socket.io.reconnection(false);
      socket.disconnect();
    },
  };
  return api;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d: Deferred<T> = {
    promise,
    resolve: (value) => ((d.settled = true), resolve(value)),
    reject: (err) => ((d.settled = true), reject(err)),
    settled: false,
  };
  return d;
}
