/** Runs a federation's rounds: waits for eligible participants, distributes the model, takes updates, aggregates, evaluates, gates, publishes. */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  CohortError,
  poolFeatureStats,
  toCohortError,
  ErrorCode,
  type Decline,
  type EvaluationReport,
  type LocalMetrics,
  type ModelSpec,
  type NamedTensor,
  type Ready,
  type UpdateMeta,
  type RoundClosed,
  type EvaluateTask,
  type RoundTask,
  type SignedRevocation,
  type ServerToClientEvents,
} from '../../protocol/index.js';
import type { Identity } from '../../crypto/index.js';
import { storageUnavailable, storing, type Federation, type RoundMetrics, type Store } from '../store/index.js';
import type { Accumulator, Strategy } from '../strategies/index.js';
import type { RoundRules } from '../config.js';
import { ConsentRegistry, publicationRules, selectionRules, updateRules, type RuleDecision } from '../policy/index.js';
import { assertTransition, type RoundState } from './state-machine.js';
import { selectEligible, type Exclusion } from './selection.js';
import { intakeMasked, intakeUpdate, type IntakeContext } from './update-intake.js';
import { SecureRound } from './secure-round.js';
import { ClipNorm } from './clip-norm.js';
import { secureTerms } from './secure-terms.js';
import { ModelRegistry, type CurrentModel } from './model-registry.js';
import { addMetrics, emptyMetrics, finishMetrics, type MetricSums } from './metrics.js';
import { writeModelCard } from './model-card-writer.js';
import { noiseAverage, spentAfter, updateNorm } from '../privacy.js';

const isErrorCode = (code: string | null): code is ErrorCode => code !== null && code in ErrorCode;

/** What the runner needs to reach agents; implemented by the realtime layer. */
export interface Outbox {
  /** Sends a task to an online institution; false when it is not connected. */
  sendTask(institution: string, task: RoundTask): boolean;
  sendEvaluation(institution: string, task: EvaluateTask): boolean;
  broadcast(event: 'round:closed', msg: RoundClosed): void;
  broadcast(event: 'federation:complete', msg: { rounds: number; finalVersion: number }): void;
  /** Secure aggregation's coordinator -> participant messages; false when the institution is not connected. */
  sendSecAgg<E extends 'secagg:keys' | 'secagg:shares' | 'secagg:unmask-request'>(institution: string, event: E, msg: Parameters<ServerToClientEvents[E]>[0]): boolean;
}

export interface RunnerEventMap {
  'round:waiting': [{ round: number; online: number; needed: number }];
  /** Who is online now, after an agent got ready or went away. */
  'agents:online': [{ online: string[] }];
  'round:blocked': [{ round: number; eligible: number; needed: number; excluded: { institution: string; code: string; message: string }[] }];
  'round:started': [{ round: number; participants: string[]; excluded: { institution: string; code: string; message: string }[]; baseVersion: number; deadline: number }];
  'update:accepted': [{ round: number; institution: string; samples: number; digest: string; metrics: LocalMetrics }];
  'update:refused': [{ round: number; institution: string; code: string; message: string }];
  'participant:declined': [{ round: number; institution: string; code: string; message: string }];
  'participant:dropped': [{ round: number; institution: string; reason: string }];
  'consent:revoked': [{ institution: string; fromRound: number }];
  'round:decided': [{ round: number; decisions: RuleDecision[]; published: boolean }];
  'round:published': [{ round: number; version: number; digest: string; metrics: RoundMetrics; decisions: RuleDecision[] }];
  'round:withheld': [{ round: number; decisions: RuleDecision[]; reason: string }];
  'round:failed': [{ round: number; reason: string }];
  'federation:complete': [{ rounds: number; finalVersion: number }];
  'federation:failed': [{ reason: string }];
  'model:corrupt': [{ version: number; reason: string }];
}

interface ActiveRound {
  round: number;
  state: RoundState;
  /** The training task, sent again to a pending participant that reconnects (its first copy may have died with the connection). */
  task?: RoundTask;
  baseVersion: number;
  selected: Set<string>;
  pending: Set<string>;
  /** Rows each participant declared (agent:ready) when it was selected: the most its update may claim. */
  declared: Map<string, number>;
  accepted: { institution: string; samples: number }[];
  accumulator?: Accumulator;
  /** The DP clip norm this round's aggregate was made with (recorded in its metrics). */
  clipUsed?: number;
  /** Secure aggregation's state when the round runs it: the coordinator then never sees an individual update. */
  secure?: SecureRound;
  metrics: MetricSums;
  decisions: RuleDecision[];
  candidate?: CurrentModel;
  evaluating: Set<string>;
  siteMetrics: Map<string, EvaluationReport>;
  timer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
  /** Why the round last could not start (to report each new reason once). */
  blockedWhy?: string;
}

export interface RunnerDeps {
  store: Store;
  identity: Identity;
  federation: Federation;
  rules: RoundRules;
  strategy: Strategy;
  dataDir: string;
  outbox: Outbox;
  log: Logger;
  maxPayloadBytes: number;
}

/**
 * One federation's round loop. Handlers are synchronous and run on the event loop, so the state
 * of a round changes in one place at a time; every change is persisted before it is announced.
 */
export class RoundRunner extends EventEmitter<RunnerEventMap> {
  private readonly online = new Map<string, Ready>();
  private active: ActiveRound | undefined;
  private consecutiveFailures = 0;
  private stopped = false;
  private spec: ModelSpec;
  private readonly models: ModelRegistry;
  readonly consents: ConsentRegistry;
  private readonly clip: ClipNorm;

  constructor(private readonly deps: RunnerDeps) {
    super();
    this.spec = deps.federation.spec;
    const resumed = deps.store.listRounds(deps.federation.id).findLast((r) => r.metrics?.nextClipNorm !== undefined)?.metrics?.nextClipNorm;
    this.clip = new ClipNorm(deps.rules, resumed);
    this.models = new ModelRegistry({ store: deps.store, identity: deps.identity, dataDir: deps.dataDir, federation: deps.federation.id });
    this.consents = new ConsentRegistry({
      store: deps.store,
      federation: deps.federation.id,
      manifest: deps.federation.manifest,
      policy: deps.federation.policy,
      audit: (kind, data, actor) => this.audit(kind, data, actor),
    });
  }

  private get fed(): string {
    return this.deps.federation.id;
  }

  private get policy() {
    return this.deps.federation.policy;
  }

  /** Resumes after a restart (unfinished rounds fail cleanly) and opens the next round. */
  start(): void {
    const { store } = this.deps;
    const federation = store.getFederation(this.fed);
    if (federation?.status === 'completed') {
      this.deps.log.info({ federation: this.fed }, 'federation already completed');
      return;
    }
    for (const r of store.listRounds(this.fed)) {
      if (r.state === 'published' || r.state === 'failed' || r.state === 'withheld') continue;
      store.transaction(() => {
        store.updateRound(this.fed, r.round, { state: 'failed', closedAt: Date.now(), reason: 'coordinator restarted during the round' });
        for (const p of store.listParticipations(this.fed, r.round)) {
          if (p.status === 'selected') store.updateParticipation(this.fed, r.round, p.institutionId, { status: 'dropped', code: 'ROUND_CLOSED', message: 'coordinator restarted' });
        }
        this.audit('round.failed', { round: r.round, reason: 'coordinator restarted during the round' });
      });
    }
    if (federation?.status !== 'running') store.updateFederationStatus(this.fed, 'running');
    try {
      this.models.loadLatest(this.spec);
    } catch (cause) {
      // The file no longer matches its digest (or is gone): never hand it to agents. Rounds wait until it is restored.
      const latest = store.latestModel(this.fed);
      const reason = toCohortError(cause).message;
      this.audit('model.corrupt', { version: latest?.version ?? null, digest: latest?.digest ?? null, reason });
      this.deps.log.error({ version: latest?.version }, `no round opens: ${reason}; restore the file from a backup and restart`);
      this.emit('model:corrupt', { version: latest?.version ?? -1, reason });
      return;
    }
    if (this.models.current) this.spec = this.models.current.spec;
    this.openNextRound();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.active?.secure?.dispose();
    this.active?.accumulator?.dispose?.();
  }

  /** The model agents train on next (undefined before the first round starts). */
  get currentModel(): CurrentModel | undefined {
    return this.models.current;
  }

  get onlineInstitutions(): string[] {
    return [...this.online.keys()].sort();
  }

  get activeRound(): { round: number; state: RoundState; selected: string[]; pending: string[] } | undefined {
    const a = this.active;
    return a && { round: a.round, state: a.state, selected: [...a.selected], pending: [...a.pending] };
  }

  /** An authenticated agent is ready; it presents its consent (and revocation) here. */
  agentOnline(institution: string, ready: Ready): void {
    if (ready.consent) this.consents.present(institution, ready.consent);
    if (ready.revocation) this.revokeConsent(institution, ready.revocation);
    this.online.set(institution, ready);
    this.deps.store.touchInstitution(this.fed, institution);
    this.emit('agents:online', { online: this.onlineInstitutions });
    const a = this.active;
    if (a?.state === 'training' && a.task && a.pending.has(institution)) this.deps.outbox.sendTask(institution, a.task);
    this.tryStart();
  }

  agentOffline(institution: string): void {
    if (this.online.delete(institution)) this.emit('agents:online', { online: this.onlineInstitutions });
  }

  /**
   * An institution withdrew its consent: it is excluded from the next selection on (from the current
   * round if it has not contributed to it yet), and the models its data fed are flagged in their lineage.
   */
  revokeConsent(institution: string, revocation: SignedRevocation): void {
    const a = this.active;
    const contributedNow = a?.accepted.some((c) => c.institution === institution) ?? false;
    const fromRound = a ? (contributedNow ? a.round + 1 : a.round) : (this.deps.store.latestRound(this.fed)?.round ?? 0) + 1;
    const { alreadyRevoked } = this.consents.revoke(institution, revocation, fromRound);
    if (alreadyRevoked) return;
    this.deps.log.warn({ institution, fromRound }, 'consent revoked');
    this.emit('consent:revoked', { institution, fromRound });
    if (a?.state === 'training' && a.pending.has(institution)) this.declineNow(a, institution, 'CONSENT_REVOKED', 'the institution revoked its consent');
    if (a?.state === 'evaluating' && a.evaluating.has(institution)) {
      a.evaluating.delete(institution);
      this.maybeDecide();
    }
  }

  /** Throws unless `institution` may upload an update for `round` now. */
  assertCanUpload(institution: string, round: number): void {
    const a = this.active;
    if (!a || a.state !== 'training' || round !== a.round) this.assertNotLate(institution, round);
    if (!a || a.state !== 'training') throw new CohortError('ROUND_CLOSED', `no round is taking updates (round ${round} is closed)`);
    if (round !== a.round) throw new CohortError('WRONG_ROUND', `update for round ${round}, current round is ${a.round}`);
    if (!a.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${round}`);
    if (!a.pending.has(institution)) {
      // A site retrying after a lost acknowledgement learns what became of the update it sent.
      const p = this.deps.store.getParticipation(this.fed, round, institution);
      if (p?.status === 'refused') throw new CohortError(isErrorCode(p.code) ? p.code : 'BAD_REQUEST', `${institution}'s update for round ${round} was refused: ${p.message ?? ''}`);
      throw new CohortError('DUPLICATE', `${institution} already reported for round ${round}`);
    }
  }

  /** A site dropped at a round's deadline is told so when its update for that round arrives after it. */
  private assertNotLate(institution: string, round: number): void {
    const p = this.deps.store.getParticipation(this.fed, round, institution);
    if (p?.status !== 'dropped' || p.code !== 'DEADLINE_PASSED') return;
    const deadline = this.deps.store.getRound(this.fed, round)?.deadline;
    throw new CohortError('DEADLINE_PASSED', `round ${round}'s deadline passed${deadline ? ` at ${new Date(deadline).toISOString()}` : ''}: it closed without ${institution}'s update`);
  }

  /** Verifies, decrypts and folds one update into the running aggregate. */
  submitUpdate(institution: string, round: number, envelope: Uint8Array): { digest: string } {
    this.assertCanUpload(institution, round);
    const a = this.active as ActiveRound;
    const inst = this.deps.store.getInstitution(this.fed, institution);
    if (!inst) throw new CohortError('UNKNOWN_INSTITUTION', `${institution} is not enrolled`);
    const ctx = this.intakeContext(a, institution, Buffer.from(inst.signPublicKey, 'base64'));
    if (a.secure) return this.submitMasked(a, institution, round, envelope, ctx);
    let accepted;
    try {
      accepted = intakeUpdate(envelope, ctx);
      this.checkSamples(a, institution, accepted.meta.samples);
      const { dp } = this.deps.rules;
      if (dp) {
        // The guarantee rests on every update's sensitivity: refuse one the site did not clip.
        const norm = updateNorm(accepted.tensors, (this.models.current as CurrentModel).tensors);
        if (norm > this.clip.current * (1 + 1e-4)) {
          throw new CohortError('BAD_REQUEST', `update is ${norm.toFixed(4)} from the global model in L2 norm, above the DP clip norm ${this.clip.current}: differential privacy needs the site to clip it`);
        }
      }
    } catch (cause) {
      const err = toCohortError(cause);
      this.refuse(a, institution, err.code, err.message, envelope.length);
      throw err;
    }
    const { meta, digest } = accepted;
    // Stored first, folded once stored: a locked database or a full disk (which may fail the commit itself) refuses
    // the update with UNAVAILABLE before it counts, and the site may send it again.
    this.storeAccepted(round, institution, meta, digest, envelope.length, {});
    this.clip.observe(meta.metrics.withinClip);
    try {
      // Under DP every update weighs the same, so no site's sample count changes the mechanism's sensitivity.
      (a.accumulator as Accumulator).add(
        accepted.tensors.map((t) => t.data),
        this.deps.rules.dp ? 1 : meta.samples,
      );
    } catch (cause) {
      // Stored as accepted but not in the aggregate: the round cannot publish a model that matches its record.
      const err = storageUnavailable(cause) ?? toCohortError(cause);
      this.failRound(`the aggregate could not take ${institution}'s accepted update: ${err.message}`);
      throw err;
    }
    return this.counted(a, institution, meta, digest);
  }

  /** FedAvg weights by the claimed count: no more rows than the site declared when it was selected, and the policy's minimum. */
  private checkSamples(a: ActiveRound, institution: string, samples: number): void {
    const declared = a.declared.get(institution) ?? 0;
    if (samples > declared) {
      throw new CohortError('BAD_SAMPLE_COUNT', `update claims ${samples} training samples, but ${institution} declared ${declared} when the round started`);
    }
    const failed = updateRules(this.policy, samples).find((d) => !d.passed);
    if (failed) throw new CohortError('BAD_SAMPLE_COUNT', `policy rule ${failed.rule}: ${failed.message}`);
  }

  /** Records an update as accepted, with its audit entry, in one transaction; UNAVAILABLE when storage fails. */
  private storeAccepted(round: number, institution: string, meta: UpdateMeta, digest: string, bytes: number, extra: Record<string, unknown>): void {
    storing(() =>
      this.deps.store.transaction(() => {
        this.deps.store.updateParticipation(this.fed, round, institution, { status: 'accepted', samples: meta.samples, digest, bytes, metrics: meta.metrics });
        this.audit('update.accepted', { round, digest, bytes, samples: meta.samples, ...extra }, institution);
      }),
    );
  }

  /** An accepted update, stored and in the aggregate: count it, announce it, and close training once nobody is pending. */
  private counted(a: ActiveRound, institution: string, meta: UpdateMeta, digest: string): { digest: string } {
    addMetrics(a.metrics, meta.samples, meta.metrics);
    a.accepted.push({ institution, samples: meta.samples });
    a.pending.delete(institution);
    this.emit('update:accepted', { round: a.round, institution, samples: meta.samples, digest, metrics: meta.metrics });
    this.maybeClose();
    return { digest };
  }

  /** What an update of this round from `institution` must match. */
  private intakeContext(a: ActiveRound, institution: string, signPublicKey: Uint8Array): IntakeContext {
    return {
      federation: this.fed,
      round: a.round,
      institution,
      baseVersion: a.baseVersion,
      spec: this.spec,
      coordinator: this.deps.identity,
      institutionSignPublicKey: signPublicKey,
      maxPayloadBytes: this.deps.maxPayloadBytes,
    };
  }

  /** Under secure aggregation: checks a masked input's envelope and metadata and adds it to the masked sum. */
  private submitMasked(a: ActiveRound, institution: string, round: number, envelope: Uint8Array, ctx: IntakeContext): { digest: string } {
    let accepted;
    try {
      accepted = intakeMasked(envelope, ctx);
      this.checkSamples(a, institution, accepted.meta.samples);
      (a.secure as SecureRound).masked(institution, accepted.frame);
    } catch (cause) {
      const err = toCohortError(cause);
      this.refuse(a, institution, err.code, err.message, envelope.length);
      throw err;
    }
    const { meta, digest } = accepted;
    try {
      this.storeAccepted(round, institution, meta, digest, envelope.length, { masked: true });
    } catch (cause) {
      // Already in the masked sum (the protocol adds it as it verifies it) but not recorded: the sum no longer matches the record.
      const err = toCohortError(cause);
      this.failRound(`${institution}'s masked input is in the sum but could not be recorded: ${err.message}`);
      throw err;
    }
    return this.counted(a, institution, meta, digest);
  }

  /**
   * A secure-aggregation message from a participant of the current round; throws (and the socket layer audits the
   * refusal) when it is not expected now or does not verify.
   */
  secAgg(institution: string, step: 'advertise' | 'share-keys' | 'unmask', msg: unknown): void {
    const a = this.active;
    const round = (msg as { round?: unknown }).round;
    if (!a?.secure) throw new CohortError('ROUND_CLOSED', 'no secure-aggregation round is running');
    if (round !== a.round) throw new CohortError('WRONG_ROUND', `secure-aggregation message for round ${String(round)}, current round is ${a.round}`);
    if (!a.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${a.round}`);
    if (step === 'advertise') a.secure.advertise(institution, msg as Parameters<SecureRound['advertise']>[1]);
    else if (step === 'share-keys') a.secure.shareKeys(institution, msg as Parameters<SecureRound['shareKeys']>[1]);
    else a.secure.unmask(institution, msg as Parameters<SecureRound['unmask']>[1]);
  }

  /** Records that a selected institution will not take part (or evaluate), and why. */
  decline(institution: string, msg: Decline): void {
    const a = this.active;
    if (a && a.round === msg.round && a.state === 'evaluating' && a.evaluating.has(institution)) {
      this.audit('evaluation.declined', { round: a.round, code: msg.code, message: msg.message }, institution);
      this.emit('participant:declined', { round: a.round, institution, code: msg.code, message: msg.message });
      a.evaluating.delete(institution);
      this.maybeDecide();
      return;
    }
    if (a && a.round === msg.round && !a.pending.has(institution)) {
      // Already out of the round (e.g. its revocation arrived first): the decline changes nothing.
      const p = this.deps.store.getParticipation(this.fed, a.round, institution);
      if (p?.status === 'declined') return;
    }
    if (!a || a.round !== msg.round || !a.pending.has(institution)) {
      throw new CohortError('ROUND_CLOSED', `round ${msg.round} is not waiting for ${institution}`);
    }
    this.declineNow(a, institution, msg.code, msg.message);
  }

  /** A contributing site's metrics of the candidate model, measured on its own validation rows. */
  evaluationReport(institution: string, report: EvaluationReport): void {
    const a = this.active;
    if (!a || a.state !== 'evaluating' || a.round !== report.round) throw new CohortError('ROUND_CLOSED', `round ${report.round} is not being evaluated`);
    if (!a.evaluating.has(institution)) throw new CohortError(a.siteMetrics.has(institution) ? 'DUPLICATE' : 'NOT_SELECTED', `${institution} has no evaluation pending for round ${report.round}`);
    a.siteMetrics.set(institution, report);
    a.evaluating.delete(institution);
    this.audit('evaluation.received', { round: a.round, valAccuracy: report.valAccuracy, valLoss: report.valLoss, valSamples: report.valSamples }, institution);
    this.maybeDecide();
  }

  private declineNow(a: ActiveRound, institution: string, code: string, message: string): void {
    this.deps.store.transaction(() => {
      this.deps.store.updateParticipation(this.fed, a.round, institution, { status: 'declined', code, message });
      this.audit('participant.declined', { round: a.round, code, message }, institution);
    });
    a.pending.delete(institution);
    this.emit('participant:declined', { round: a.round, institution, code, message });
    this.maybeClose();
  }

  private refuse(a: ActiveRound, institution: string, code: string, message: string, bytes: number): void {
    this.deps.store.transaction(() => {
      this.deps.store.updateParticipation(this.fed, a.round, institution, { status: 'refused', code, message, bytes });
      this.audit('update.refused', { round: a.round, code, message, bytes }, institution);
    });
    a.pending.delete(institution);
    this.emit('update:refused', { round: a.round, institution, code, message });
    this.deps.log.warn({ round: a.round, institution, code }, `update refused: ${message}`);
    queueMicrotask(() => this.maybeClose());
  }

  private openNextRound(): void {
    if (this.stopped) return;
    const { store, rules } = this.deps;
    const published = store.listRounds(this.fed).filter((r) => r.state === 'published').length;
    if (published >= rules.rounds) return this.complete(published);
    if (this.consecutiveFailures >= rules.maxConsecutiveFailures) {
      return this.failFederation(`${this.consecutiveFailures} consecutive rounds failed or were withheld`);
    }
    const budget = this.deps.federation.manifest.privacy.dp;
    if (budget && spentAfter(rules, this.releasedRounds() + 1) > budget.epsilon + 1e-9) {
      return this.failFederation(`privacy budget: another round would spend epsilon ${spentAfter(rules, this.releasedRounds() + 1)}, above the study's ${budget.epsilon}`);
    }
    const round = (store.latestRound(this.fed)?.round ?? 0) + 1;
    const deadline = Date.now() + rules.waitTimeoutMs;
    store.transaction(() => {
      store.createRound({
        federationId: this.fed,
        round,
        state: 'waiting',
        baseVersion: this.models.current?.version ?? 0,
        deadline,
        minParticipants: rules.minParticipants,
        selected: [],
        startedAt: Date.now(),
        policyHash: this.deps.federation.policyHash,
      });
      this.audit('round.opened', { round, minParticipants: rules.minParticipants, deadline, policyHash: this.deps.federation.policyHash });
    });
    this.active = {
      round,
      state: 'waiting',
      baseVersion: 0,
      selected: new Set(),
      pending: new Set(),
      declared: new Map(),
      accepted: [],
      metrics: emptyMetrics(),
      decisions: [],
      evaluating: new Set(),
      siteMetrics: new Map(),
    };
    this.active.timer = setTimeout(() => {
      const eligible = this.eligible(round).participants.length;
      this.failRound(`only ${eligible} eligible institutions (online, with consent in force) of the ${this.needed()} required came forward before the deadline`);
    }, rules.waitTimeoutMs);
    this.emit('round:waiting', { round, online: this.online.size, needed: this.needed() });
    this.tryStart();
  }

  /** The fewest participants a round can start with: the rules' minimum and the policy's. */
  private needed(): number {
    return Math.max(this.deps.rules.minParticipants, this.policy.minInstitutionsPerRound);
  }

  /**
   * Online institutions whose consent covers training (given the round's size, which their own
   * limits may depend on), selected by fraction C; those excluded and why.
   */
  private eligible(round: number): { participants: string[]; excluded: Exclusion[] } {
    // A suspended institution's open session does not make it eligible: status is read at every selection.
    const active = [...this.online.keys()].filter((institution) => this.deps.store.getInstitution(this.fed, institution)?.status === 'active');
    return selectEligible(active, (institution, participants) => this.consents.covers(institution, 'training', participants), { ...this.deps.rules, round });
  }

  private tryStart(): void {
    const a = this.active;
    if (!a || a.state !== 'waiting' || this.stopped) return;
    const { rules } = this.deps;
    if (this.online.size < this.needed()) return;
    const enrolled = this.deps.store.listInstitutions(this.fed).filter((i) => i.status === 'active').length;
    if (this.online.size >= enrolled || rules.joinGraceMs === 0) return this.startTraining();
    a.graceTimer ??= setTimeout(() => {
      a.graceTimer = undefined;
      this.startTraining();
    }, rules.joinGraceMs);
  }

  private startTraining(): void {
    const a = this.active;
    if (!a || a.state !== 'waiting' || this.stopped) return;
    const { rules, store } = this.deps;
    const { participants, excluded } = this.eligible(a.round);
    const decisions = selectionRules(this.policy, participants.length, a.round);
    if (participants.length < rules.minParticipants || decisions.some((d) => !d.passed)) {
      // Keep waiting (more may come), and say once why the round cannot start yet.
      const why = JSON.stringify({ eligible: participants, excluded });
      if (a.blockedWhy !== why) {
        a.blockedWhy = why;
        this.audit('round.blocked', { round: a.round, eligible: participants.length, needed: this.needed(), excluded, decisions });
        this.deps.log.warn({ round: a.round, eligible: participants.length, excluded }, 'round waiting: too few eligible institutions');
        this.emit('round:blocked', { round: a.round, eligible: participants.length, needed: this.needed(), excluded });
      }
      return;
    }
    if (!this.models.current) this.createInitialModel();
    const model = this.models.current as CurrentModel;
    const deadline = Date.now() + rules.roundTimeoutMs;
    if (a.timer) clearTimeout(a.timer);
    this.transition(a, 'training', () => {
      store.updateRound(this.fed, a.round, { selected: participants, deadline, decisions });
      for (const institution of participants) {
        store.addParticipation({ federationId: this.fed, round: a.round, institutionId: institution, status: 'selected', updatedAt: Date.now() });
      }
      this.audit('round.started', { round: a.round, baseVersion: model.version, participants, excluded, deadline, policyHash: this.deps.federation.policyHash, decisions });
    });
    a.baseVersion = model.version;
    a.selected = new Set(participants);
    a.pending = new Set(participants);
    a.declared = new Map(participants.map((institution) => [institution, this.online.get(institution)?.samples ?? 0]));
    a.decisions = decisions;
    this.clip.reset();
    a.accumulator = this.deps.strategy.begin(
      model.tensors.map((t) => t.shape),
      model.tensors.map((t) => t.data),
    );
    a.timer = setTimeout(() => this.onDeadline(), rules.roundTimeoutMs);
    this.emit('round:started', { round: a.round, participants, excluded, baseVersion: model.version, deadline });
    const secagg = rules.secagg ? this.openSecureRound(a, participants) : undefined;
    const task: RoundTask = {
      ...this.terms(a.round, deadline, participants.length, model),
      use: 'training',
      config: { ...rules.train, ...this.deps.strategy.trainConfig, ...(rules.dp ? { dpClipNorm: this.clip.current, ...(this.clip.adaptive ? { dpReportClip: true } : {}) } : {}) },
      ...(secagg ? { secagg } : {}),
    };
    if (!secagg) a.task = task;
    for (const institution of participants) {
      if (!this.deps.outbox.sendTask(institution, task)) this.drop(a, institution, 'not connected when the task was sent');
    }
    this.maybeClose();
  }

  /** Starts the round's secure aggregation and returns the terms every participant's task carries. */
  private openSecureRound(a: ActiveRound, participants: string[]) {
    const { terms, config } = secureTerms({
      federation: this.fed,
      round: a.round,
      rules: this.deps.rules,
      spec: this.spec,
      participants: participants.map((id) => ({ id, signPublicKey: Buffer.from(this.deps.store.getInstitution(this.fed, id)?.signPublicKey ?? '', 'base64') })),
      maxDeclared: Math.max(1, ...a.declared.values()),
    });
    a.secure = new SecureRound({
      round: a.round,
      terms,
      config,
      stepTimeoutMs: this.deps.rules.secagg?.stepTimeoutMs ?? 30_000,
      send: (institution, event, msg) => this.deps.outbox.sendSecAgg(institution, event, msg),
      audit: (kind, data, actor) => this.audit(kind, data, actor),
      onDropped: (institution, reason) => {
        if (this.active !== a || a.state !== 'training' || !a.pending.has(institution)) return;
        this.drop(a, institution, reason);
        this.maybeClose();
      },
      onOutcome: (outcome) => this.onSecureOutcome(a, outcome),
    });
    return terms;
  }

  /** What every task states, for the agent to check against its own consent. */
  private terms(round: number, deadline: number, participants: number, model: CurrentModel) {
    const { manifest, policyHash } = this.deps.federation;
    return { federation: this.fed, round, deadline, study: manifest, participants, privacy: manifest.privacy, policyHash, model: model.signed };
  }

  /** Version 0: seeded initial weights; tabular specs get federation-wide normalisation from the sites' statistics. */
  private createInitialModel(): void {
    let spec = this.spec;
    if (spec.features && !spec.normalization) {
      const stats = [...this.online.values()].flatMap((r) => (r.featureStats ? [r.featureStats] : []));
      if (stats.length > 0) {
        spec = { ...spec, normalization: poolFeatureStats(stats) };
        const normalized = spec;
        this.deps.store.transaction(() => {
          this.deps.store.updateFederation(this.fed, { spec: normalized });
          this.audit('spec.normalization', { sites: stats.length, samples: stats.reduce((n, s) => n + s.count, 0) });
        });
      }
    }
    this.spec = spec;
    this.models.createInitial(spec, this.deps.rules.seed);
  }

  private onDeadline(): void {
    const a = this.active;
    if (!a) return;
    if (a.state === 'training') {
      for (const institution of [...a.pending]) this.drop(a, institution, 'no update before the round deadline');
      this.closeTraining();
    } else if (a.state === 'evaluating') {
      for (const institution of a.evaluating) this.audit('evaluation.missing', { round: a.round, reason: 'no evaluation before the deadline' }, institution);
      a.evaluating.clear();
      this.decide();
    }
  }

  private drop(a: ActiveRound, institution: string, reason: string): void {
    this.deps.store.transaction(() => {
      this.deps.store.updateParticipation(this.fed, a.round, institution, { status: 'dropped', code: 'DEADLINE_PASSED', message: reason });
      this.audit('participant.dropped', { round: a.round, reason }, institution);
    });
    a.pending.delete(institution);
    this.emit('participant:dropped', { round: a.round, institution, reason });
  }

  private maybeClose(): void {
    const a = this.active;
    if (a && a.state === 'training' && a.pending.size === 0) this.closeTraining();
  }

  /** Aggregates, then asks the contributors to evaluate the candidate on their own validation rows. */
  private closeTraining(): void {
    const a = this.active as ActiveRound;
    this.clearTimers();
    const accepted = a.secure ? a.accepted.length : (a.accumulator?.count ?? 0);
    const min = this.deps.rules.minParticipants;
    if (accepted < min) return this.failRound(`only ${accepted} of ${min} required updates were accepted`);
    this.transition(a, 'aggregating', () => this.audit('round.aggregating', { round: a.round, updates: accepted, secureAggregation: a.secure !== undefined }));
    if (a.secure) {
      // The masked sum is useless until the survivors reveal their shares: unmasking continues in onSecureOutcome.
      return a.secure.closeMasked();
    }
    this.aggregateAndEvaluate(a, accepted);
  }

  /** Secure aggregation ended: the average update joins the strategy (as one update of the total weight), or the round fails. */
  private onSecureOutcome(a: ActiveRound, outcome: import('../../crypto/index.js').secagg.ServerOutcome): void {
    if (this.active !== a || (a.state !== 'aggregating' && a.state !== 'training')) return;
    if (!outcome.ok) {
      for (const b of outcome.blame) this.audit('secagg.blame', { round: a.round, reason: b.reason, evidence: b.evidence, message: b.message }, b.participant);
      return this.failRound(`secure aggregation failed (${outcome.failure.code} at ${outcome.failure.step}): ${outcome.failure.message}`);
    }
    const { average, weightSum, survivors } = outcome.result;
    if (!average) return this.failRound('secure aggregation: the survivors\' weights sum to 0');
    const base = this.models.current as CurrentModel;
    let offset = 0;
    const candidate = base.tensors.map((t) => {
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = (t.data[i] as number) + (average[offset + i] as number);
      offset += out.length;
      return out;
    });
    // Participants whose masked input was accepted but whose mask could not be removed are not in the sum.
    const inSum = new Set(survivors);
    a.accepted = a.accepted.filter((c) => inSum.has(c.institution));
    (a.accumulator as Accumulator).add(candidate, weightSum);
    this.aggregateAndEvaluate(a, survivors.length);
  }

  /** The strategy's result (plus central DP noise) becomes the candidate, which the contributors evaluate. */
  private aggregateAndEvaluate(a: ActiveRound, accepted: number): void {
    this.clearTimers();
    try {
      const result = (a.accumulator as Accumulator).result();
      if (!result) return this.failRound('the strategy produced no model');
      // Under secure aggregation the sites added the noise themselves (distributed DP): none is added here.
      if (!a.secure) noiseAverage(result, this.deps.rules, accepted, { clipNorm: this.clip.current, noiseMultiplier: this.clip.updateNoiseMultiplier ?? 0 });
      a.clipUsed = this.clip.current;
      const adapted = this.clip.step();
      if (adapted) this.audit('dp.clip.adapted', { round: a.round, ...adapted });
      const base = this.models.current as CurrentModel;
      const tensors: NamedTensor[] = base.tensors.map((t, i) => ({ name: t.name, shape: t.shape, data: result[i] as Float32Array }));
      a.candidate = this.models.candidate(this.spec, tensors, base.version + 1, a.round);
    } catch (cause) {
      return this.failRound(`aggregation failed: ${toCohortError(cause).message}`);
    }
    const candidate = a.candidate;
    const evaluators = a.accepted.map((c) => c.institution).filter((i) => this.online.has(i) && this.consents.covers(i, 'evaluation').ok);
    this.transition(a, 'evaluating', () => this.audit('round.evaluating', { round: a.round, candidateDigest: candidate.digest, evaluators }));
    const deadline = Date.now() + this.deps.rules.evaluationTimeoutMs;
    const task: EvaluateTask = { ...this.terms(a.round, deadline, a.accepted.length, candidate), use: 'evaluation' };
    for (const institution of evaluators) if (this.deps.outbox.sendEvaluation(institution, task)) a.evaluating.add(institution);
    a.timer = setTimeout(() => this.onDeadline(), this.deps.rules.evaluationTimeoutMs);
    this.maybeDecide();
  }

  private maybeDecide(): void {
    const a = this.active;
    if (a && a.state === 'evaluating' && a.evaluating.size === 0) this.decide();
  }

  /** Every policy rule, before publication: all pass and the candidate is published, else it is withheld. */
  private decide(): void {
    const a = this.active as ActiveRound;
    this.clearTimers();
    const candidate = a.candidate as CurrentModel;
    const { federation, store } = this.deps;
    const decisions = publicationRules(this.policy, {
      round: a.round,
      arch: this.spec.arch,
      contributors: a.accepted,
      privacy: federation.manifest.privacy,
      siteMetrics: [...a.siteMetrics].map(([institution, m]) => ({ institution, valAccuracy: m.valAccuracy })),
    });
    const published = decisions.every((d) => d.passed);
    const all = [...a.decisions, ...decisions];
    const metrics = this.withPrivacy(finishMetrics(a.metrics));
    this.audit('policy.decision', { round: a.round, policyHash: federation.policyHash, outcome: published ? 'publish' : 'withhold', decisions });
    this.emit('round:decided', { round: a.round, decisions, published });
    if (!published) {
      const reason = decisions.filter((d) => !d.passed).map((d) => `${d.rule}: ${d.message}`).join('; ');
      this.transition(a, 'withheld', () => {
        store.updateRound(this.fed, a.round, { closedAt: Date.now(), reason: `withheld by policy: ${reason}`, decisions: all, metrics });
        this.audit('round.withheld', { round: a.round, candidateDigest: candidate.digest, reason });
      });
      this.consecutiveFailures += 1;
      this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'withheld', reason });
      this.emit('round:withheld', { round: a.round, decisions, reason });
      this.active = undefined;
      setImmediate(() => this.openNextRound());
      return;
    }
    let result;
    try {
      const base = this.models.current as CurrentModel;
      result = store.transaction(() => {
        const model = this.models.publish(this.spec, candidate.tensors, a.round, base.version);
        store.updateRound(this.fed, a.round, { state: 'published', resultVersion: model.version, closedAt: Date.now(), metrics, decisions: all });
        this.audit('model.published', { round: a.round, version: model.version, digest: model.digest, parentVersion: base.version, metrics });
        const card = writeModelCard({
          store,
          dataDir: this.deps.dataDir,
          identity: this.deps.identity,
          manifest: federation.manifest,
          manifestHash: federation.manifestHash,
          spec: this.spec,
          model,
          modelPath: model.path,
          parentVersion: base.version,
          round: a.round,
          specHash: store.getModel(this.fed, model.version)?.specHash ?? '',
          policy: { version: this.policy.version, hash: federation.policyHash, decisions: all },
          siteMetrics: [...a.siteMetrics].map(([institution, m]) => ({ institution, valAccuracy: m.valAccuracy, valLoss: m.valLoss, valSamples: m.valSamples })),
          epsilonSpent: metrics.epsilon ?? null,
        });
        return { version: model.version, digest: model.digest, metrics, fairnessGap: card.fairnessGap };
      });
    } catch (cause) {
      a.state = 'evaluating';
      return this.failRound(`publication failed: ${toCohortError(cause).message}`);
    }
    a.state = 'published';
    this.consecutiveFailures = 0;
    this.deps.log.info({ round: a.round, version: result.version }, 'model published');
    this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'published', version: result.version });
    this.emit('round:published', { round: a.round, version: result.version, digest: result.digest, metrics: result.metrics, decisions: all });
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  /** Rounds whose aggregate reached the sites (published or withheld): each is a step of the DP mechanism. */
  private releasedRounds(): number {
    return this.deps.store.listRounds(this.fed).filter((r) => r.state === 'published' || r.state === 'withheld').length;
  }

  /** The round's metrics with the (epsilon, delta) spent so far, counting this round, when DP is on. */
  private withPrivacy(metrics: RoundMetrics): RoundMetrics {
    const { dp } = this.deps.rules;
    const clip = this.active?.clipUsed !== undefined ? { clipNorm: this.active.clipUsed, ...(this.clip.adaptive ? { nextClipNorm: this.clip.current } : {}) } : {};
    return dp ? { ...metrics, epsilon: spentAfter(this.deps.rules, this.releasedRounds() + 1), delta: dp.delta, ...clip } : metrics;
  }

  private failRound(reason: string): void {
    const a = this.active as ActiveRound;
    this.clearTimers();
    a.secure?.dispose();
    a.accumulator?.dispose?.();
    this.transition(a, 'failed', () => {
      this.deps.store.updateRound(this.fed, a.round, { closedAt: Date.now(), reason });
      for (const institution of a.pending) {
        this.deps.store.updateParticipation(this.fed, a.round, institution, { status: 'dropped', code: 'ROUND_CLOSED', message: reason });
      }
      this.audit('round.failed', { round: a.round, reason });
    });
    this.consecutiveFailures += 1;
    this.deps.log.warn({ round: a.round }, `round failed: ${reason}`);
    this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'failed', reason });
    this.emit('round:failed', { round: a.round, reason });
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  private complete(rounds: number): void {
    const finalVersion = this.models.current?.version ?? 0;
    this.deps.store.transaction(() => {
      this.deps.store.updateFederationStatus(this.fed, 'completed');
      this.audit('federation.completed', { rounds, finalVersion });
    });
    this.deps.outbox.broadcast('federation:complete', { rounds, finalVersion });
    this.emit('federation:complete', { rounds, finalVersion });
  }

  private failFederation(reason: string): void {
    this.deps.store.transaction(() => {
      this.deps.store.updateFederationStatus(this.fed, 'failed');
      this.audit('federation.failed', { reason });
    });
    this.emit('federation:failed', { reason });
  }

  /** Persists a state change (checked against the transition table) together with `also`, atomically. */
  private transition(a: ActiveRound, to: RoundState, also: () => void): void {
    assertTransition(a.state, to);
    this.deps.store.transaction(() => {
      this.deps.store.updateRound(this.fed, a.round, { state: to });
      also();
    });
    a.state = to;
  }

  private clearTimers(): void {
    if (this.active?.timer) clearTimeout(this.active.timer);
    if (this.active?.graceTimer) clearTimeout(this.active.graceTimer);
    if (this.active) this.active.timer = this.active.graceTimer = undefined;
  }

  private audit(kind: string, data: Record<string, unknown>, actor = 'coordinator'): void {
    this.deps.store.appendAudit({ federationId: this.fed, kind, actor, subject: typeof data.round === 'number' ? `round:${data.round}` : null, data });
  }
}
