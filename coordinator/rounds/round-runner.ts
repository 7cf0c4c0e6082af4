/** Runs a federation's rounds: waits for eligible participants, distributes the model, takes updates, aggregates, evaluates, gates, publishes. */
import { EventEmitter } from 'node:events';
import {
  toCohortError,
  type ReceivedDecline,
  type EvaluationReport,
  type ModelSpec,
  type Ready,
  type StudyManifest,
  type SignedRevocation,
} from '../../protocol/index.js';
import { ConsentRegistry } from '../policy/index.js';
import { assertTransition, type RoundState } from '../store/round-states.js';
import { ClipNorm } from './clip-norm.js';
import { UpdateBound } from './update-bound.js';
import { ModelRegistry, type CurrentModel } from './model-registry.js';
import { spentAfter } from '../privacy.js';
import type { RunnerDeps, RunnerEventMap } from './runner-types.js';
import type {
  ActiveRound,
  AggregatingRound,
  EvaluatingRound,
  RoundContext,
  StepOutcome,
  TrainingRound,
  WaitingRound,
} from './round-context.js';
import { intakeFor, submitPlain } from './update-submission.js';
import { admitUpload } from './upload-admission.js';
import { declineNow, pendingOf, recordDecline, recordEvaluation } from './site-replies.js';
import { secAggMessage, submitMasked } from './secure-driver.js';
import { eligible, needed, startTraining } from './round-start.js';
import { judge, publish, recordWithheld, releasedRounds, withheldReason } from './publication.js';
import { closeTraining } from './aggregation.js';
import { resume } from './resume.js';

export type { Outbox, RunnerDeps, RunnerEventMap } from './runner-types.js';

/**
 * One federation's round loop. Handlers are synchronous and run on the event loop, so the state
 * of a round changes in one place at a time; every change is persisted before it is announced.
 */
export class RoundRunner extends EventEmitter<RunnerEventMap> {
  private readonly online = new Map<string, Ready>();
  private active: ActiveRound | undefined;
  private consecutiveFailures = 0;
  private stopped = false;
  private failure: string | undefined;
  private spec: ModelSpec;
  private readonly models: ModelRegistry;
  readonly consents: ConsentRegistry;
  private readonly clip: ClipNorm;
  private readonly bound: UpdateBound;
  /** What the modules that carry out the round's steps see of this runner. */
  private readonly ctx: RoundContext;

  constructor(private readonly deps: RunnerDeps) {
    super();
    this.spec = deps.federation.spec;
    const resumed = deps.store.listRounds(deps.federation.id).findLast((r) => r.metrics?.nextClipNorm !== undefined)?.metrics?.nextClipNorm;
    this.clip = new ClipNorm(deps.rules, resumed);
    const lastMedian = deps.store.listRounds(deps.federation.id).findLast((r) => r.metrics?.updateNormMedian !== undefined)
      ?.metrics?.updateNormMedian;
    this.bound = new UpdateBound(deps.rules, lastMedian);
    this.models = new ModelRegistry({ store: deps.store, identity: deps.identity, dataDir: deps.dataDir, federation: deps.federation.id });
    this.consents = new ConsentRegistry({
      store: deps.store,
      federation: deps.federation.id,
      manifest: deps.federation.manifest,
      policy: deps.federation.policy,
      audit: (kind, data, actor) => this.audit(kind, data, actor),
    });
    const runner = this;
    this.ctx = {
      deps,
      federationId: deps.federation.id,
      get spec() {
        return runner.spec;
      },
      set spec(spec) {
        runner.spec = spec;
      },
      get active() {
        return runner.active;
      },
      online: this.online,
      models: this.models,
      clip: this.clip,
      bound: this.bound,
      consents: this.consents,
      events: this,
      audit: (kind, data, actor) => this.audit(kind, data, actor),
      enter: (from, next, also) => this.enter(from, next, also),
      drop: (training, institution, reason) => this.drop(training, institution, reason),
      maybeClose: () => this.maybeClose(),
      onDeadline: () => this.onDeadline(),
      maybeDecide: () => this.maybeDecide(),
      settle: (outcome) => this.settle(outcome),
    };
  }

  private get federationId(): string {
    return this.deps.federation.id;
  }

  /** Resumes after a restart (unfinished rounds fail cleanly) and opens the next round. */
  start(): void {
    const { store } = this.deps;
    const federation = store.getFederation(this.federationId);
    if (federation?.status === 'completed') {
      this.deps.log.info({ federation: this.federationId }, 'federation already completed');
      return;
    }
    if (!resume(this.ctx, federation)) return;
    this.openNextRound();
  }

  stop(): void {
    this.stopped = true;
    const active = this.active;
    if (!active) return;
    clearTimers(active);
    if (active.state === 'waiting') return;
    active.secure?.dispose();
    active.accumulator.dispose?.();
  }

  /** The model agents train on next (undefined before the first round starts). */
  get currentModel(): CurrentModel | undefined {
    return this.models.current;
  }

  /** Why the federation stopped as failed (undefined while it runs or once it completed). */
  get failedReason(): string | undefined {
    return this.failure;
  }

  get onlineInstitutions(): string[] {
    return [...this.online.keys()].sort();
  }

  get activeRound(): { round: number; state: RoundState; selected: string[]; pending: string[] } | undefined {
    const active = this.active;
    if (!active) return undefined;
    const selected = active.state === 'waiting' ? [] : [...active.selected];
    return { round: active.round, state: active.state, selected, pending: [...pendingOf(active)] };
  }

  /** An authenticated agent is ready; it presents its consent (and revocation) here. */
  agentOnline(institution: string, ready: Ready): void {
    if (ready.consent) this.consents.present(institution, ready.consent);
    if (ready.revocation) this.revokeConsent(institution, ready.revocation);
    this.online.set(institution, ready);
    this.deps.store.touchInstitution(this.federationId, institution);
    this.emit('agents:online', { online: this.onlineInstitutions });
    const active = this.active;
    if (active?.state === 'training' && active.task && active.pending.has(institution)) this.deps.outbox.sendTask(institution, active.task);
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
    const active = this.active;
    const contributedNow = active !== undefined && active.state !== 'waiting' && active.accepted.some((c) => c.institution === institution);
    const fromRound = active
      ? contributedNow
        ? active.round + 1
        : active.round
      : (this.deps.store.latestRound(this.federationId)?.round ?? 0) + 1;
    const { alreadyRevoked } = this.consents.revoke(institution, revocation, fromRound);
    if (alreadyRevoked) return;
    this.deps.log.warn({ institution, fromRound }, 'consent revoked');
    this.emit('consent:revoked', { institution, fromRound });
    if (active?.state === 'training' && active.pending.has(institution))
      declineNow(this.ctx, active, institution, 'CONSENT_REVOKED', 'the institution revoked its consent');
    if (active?.state === 'evaluating' && active.evaluating.has(institution)) {
      active.evaluating.delete(institution);
      this.maybeDecide();
    }
  }

  /** Throws unless `institution` may upload an update for `round` now; the training round it may upload to. */
  assertCanUpload(institution: string, round: number): TrainingRound {
    return admitUpload(this.ctx, institution, round);
  }

  /** Verifies, decrypts and folds one update into the running aggregate. */
  submitUpdate(institution: string, round: number, envelope: Uint8Array): { digest: string } {
    const training = this.assertCanUpload(institution, round);
    const intake = intakeFor(this.ctx, training, institution);
    const submitted = training.secure
      ? submitMasked(this.ctx, training, training.secure, institution, envelope, intake)
      : submitPlain(this.ctx, training, institution, envelope, intake);
    if (submitted.ok) return { digest: submitted.digest };
    // Taken but not in a state the round can publish from: the round fails, and the site learns why its upload did not count.
    this.failRound(submitted.reason);
    throw submitted.error;
  }

  /**
   * The study was amended (a new institution or key): tasks carry the new manifest, and consents are checked against it
   * (a consent to the previous version no longer covers any task).
   */
  amendStudy(manifest: StudyManifest, manifestHash: string): void {
    this.deps.federation = { ...this.deps.federation, manifest, manifestHash };
    this.consents.amend(manifest);
  }

  /**
   * A secure-aggregation message from a participant of the current round; throws (and the socket layer audits the
   * refusal) when it is not expected now or does not verify.
   */
  secAgg(institution: string, step: 'advertise' | 'share-keys' | 'consistency' | 'unmask', msg: unknown): void {
    secAggMessage(this.ctx, institution, step, msg);
  }

  /** Records that a selected institution will not take part (or evaluate), and why (site-replies.ts). */
  decline(institution: string, msg: ReceivedDecline): void {
    recordDecline(this.ctx, institution, msg);
  }

  /** A contributing site's metrics of the candidate model, measured on its own validation rows. */
  evaluationReport(institution: string, report: EvaluationReport): void {
    recordEvaluation(this.ctx, institution, report);
  }

  private openNextRound(): void {
    if (this.stopped) return;
    const { store, rules } = this.deps;
    const published = store.listRounds(this.federationId).filter((r) => r.state === 'published').length;
    if (published >= rules.rounds) return this.complete(published);
    if (this.consecutiveFailures >= rules.maxConsecutiveFailures) {
      return this.failFederation(`${this.consecutiveFailures} consecutive rounds failed or were withheld`);
    }
    const budget = this.deps.federation.manifest.privacy.dp;
    if (budget && spentAfter(rules, releasedRounds(this.ctx) + 1) > budget.epsilon + 1e-9) {
      return this.failFederation(
        `privacy budget: another round would spend epsilon ${spentAfter(rules, releasedRounds(this.ctx) + 1)}, above the study's ${budget.epsilon}`,
      );
    }
    const round = (store.latestRound(this.federationId)?.round ?? 0) + 1;
    const deadline = Date.now() + rules.waitTimeoutMs;
    store.transaction(() => {
      store.createRound({
        federationId: this.federationId,
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
    const waiting: WaitingRound = { state: 'waiting', round };
    this.active = waiting;
    waiting.timer = setTimeout(() => {
      const count = eligible(this.ctx, round).participants.length;
      const blocked = waiting.blockedReason;
      this.failRound(
        `only ${count} eligible institutions (online, with consent in force) of the ${needed(this.ctx)} required came forward before the deadline${blocked ? ` (${blocked})` : ''}`,
      );
    }, rules.waitTimeoutMs);
    this.emit('round:waiting', { round, online: this.online.size, needed: needed(this.ctx) });
    this.tryStart();
  }

  private tryStart(): void {
    const waiting = this.active;
    if (waiting?.state !== 'waiting' || this.stopped) return;
    const { rules } = this.deps;
    if (this.online.size < needed(this.ctx)) return;
    const enrolled = this.deps.store.listInstitutions(this.federationId).filter((i) => i.status === 'active').length;
    if (this.online.size >= enrolled || rules.joinGraceMs === 0) return this.startTraining();
    waiting.graceTimer ??= setTimeout(() => {
      waiting.graceTimer = undefined;
      this.startTraining();
    }, rules.joinGraceMs);
  }

  private startTraining(): void {
    const waiting = this.active;
    if (waiting?.state !== 'waiting' || this.stopped) return;
    startTraining(this.ctx, waiting);
  }

  private onDeadline(): void {
    const active = this.active;
    if (active?.state === 'training') {
      for (const institution of [...active.pending]) this.drop(active, institution, 'no update before the round deadline');
      this.settle(closeTraining(this.ctx, active));
    } else if (active?.state === 'evaluating') {
      for (const institution of active.evaluating)
        this.audit('evaluation.missing', { round: active.round, reason: 'no evaluation before the deadline' }, institution);
      active.evaluating.clear();
      this.decide(active);
    }
  }

  private drop(training: TrainingRound, institution: string, reason: string): void {
    const { round } = training;
    this.deps.store.transaction(() => {
      this.deps.store.updateParticipation(this.federationId, round, institution, {
        status: 'dropped',
        code: 'DEADLINE_PASSED',
        message: reason,
      });
      this.audit('participant.dropped', { round, reason }, institution);
    });
    training.pending.delete(institution);
    this.emit('participant:dropped', { round, institution, reason });
  }

  private maybeClose(): void {
    const training = this.active;
    if (training?.state === 'training' && training.pending.size === 0) this.settle(closeTraining(this.ctx, training));
  }

  private maybeDecide(): void {
    const evaluating = this.active;
    if (evaluating?.state === 'evaluating' && evaluating.evaluating.size === 0) this.decide(evaluating);
  }

  /** A step's outcome: a failure fails the round (the round in progress when the step ran). */
  private settle(outcome: StepOutcome): void {
    if (!outcome.ok) this.failRound(outcome.reason);
  }

  /** Every policy rule, before publication: all pass and the candidate is published, else it is withheld. */
  private decide(evaluating: EvaluatingRound): void {
    const { round } = evaluating;
    clearTimers(evaluating);
    const verdict = judge(this.ctx, evaluating);
    if (!verdict.published) {
      const reason = withheldReason(verdict);
      this.persist(evaluating, 'withheld', () => recordWithheld(this.ctx, evaluating, verdict, reason));
      this.consecutiveFailures += 1;
      this.deps.outbox.broadcast('round:closed', { round, state: 'withheld', reason });
      this.emit('round:withheld', { round, decisions: verdict.decisions, reason });
      this.active = undefined;
      setImmediate(() => this.openNextRound());
      return;
    }
    let result;
    try {
      result = publish(this.ctx, evaluating, verdict);
    } catch (cause) {
      return this.failRound(`publication failed: ${toCohortError(cause).message}`);
    }
    this.consecutiveFailures = 0;
    this.deps.log.info({ round, version: result.version }, 'model published');
    this.deps.outbox.broadcast('round:closed', { round, state: 'published', version: result.version });
    this.emit('round:published', {
      round,
      version: result.version,
      digest: result.digest,
      metrics: result.metrics,
      decisions: verdict.all,
    });
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  private failRound(reason: string): void {
    const active = this.active;
    if (!active) return;
    this.recordFailure(active, reason);
    this.consecutiveFailures += 1;
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  /** Closes the round as failed: timers cleared, secrets disposed, pending sites dropped, audited, announced. */
  private recordFailure(active: ActiveRound, reason: string): void {
    const { round } = active;
    clearTimers(active);
    if (active.state !== 'waiting') {
      active.secure?.dispose();
      active.accumulator.dispose?.();
    }
    this.persist(active, 'failed', () => {
      this.deps.store.updateRound(this.federationId, round, { closedAt: Date.now(), reason });
      for (const institution of pendingOf(active)) {
        this.deps.store.updateParticipation(this.federationId, round, institution, {
          status: 'dropped',
          code: 'ROUND_CLOSED',
          message: reason,
        });
      }
      this.audit('round.failed', { round, reason });
    });
    this.deps.log.warn({ round }, `round failed: ${reason}`);
    this.deps.outbox.broadcast('round:closed', { round, state: 'failed', reason });
    this.emit('round:failed', { round, reason });
  }

  /**
   * A graceful stop (SIGTERM): the round in progress is recorded as failed with `reason`, so the next start opens a fresh
   * one, `coordinator.stopped` is audited, and nothing more runs.
   * @example process.once('SIGTERM', () => runner.shutdown('coordinator stopped (SIGTERM)'))
   */
  shutdown(reason: string): void {
    const active = this.active;
    if (active && !this.stopped) this.recordFailure(active, reason);
    if (!this.stopped) this.audit('coordinator.stopped', { reason, round: active?.round ?? null });
    this.active = undefined;
    this.stop();
  }

  private complete(rounds: number): void {
    const finalVersion = this.models.current?.version ?? 0;
    this.deps.store.transaction(() => {
      this.deps.store.updateFederationStatus(this.federationId, 'completed');
      this.audit('federation.completed', { rounds, finalVersion });
    });
    this.deps.outbox.broadcast('federation:complete', { rounds, finalVersion });
    this.emit('federation:complete', { rounds, finalVersion });
  }

  private failFederation(reason: string): void {
    this.deps.store.transaction(() => {
      this.deps.store.updateFederationStatus(this.federationId, 'failed');
      this.audit('federation.failed', { reason });
    });
    this.failure = reason;
    this.deps.log.error({ federation: this.federationId }, `federation failed: ${reason}`);
    this.deps.outbox.broadcast('federation:failed', { reason });
    this.emit('federation:failed', { reason });
  }

  /** Persists a state change (checked against the transition table) together with `also`, atomically. */
  private persist(from: ActiveRound, to: RoundState, also: () => void): void {
    assertTransition(from.state, to);
    this.deps.store.transaction(() => {
      this.deps.store.updateRound(this.federationId, from.round, { state: to });
      also();
    });
  }

  /**
   * The one place a round moves to its next open state: `from`'s timers stop, the change is persisted with `also`,
   * and `next` is the round in progress from then on.
   */
  private enter<S extends TrainingRound | AggregatingRound | EvaluatingRound>(from: ActiveRound, next: S, also: () => void): S {
    clearTimers(from);
    this.persist(from, next.state, also);
    this.active = next;
    return next;
  }

  private audit(kind: string, data: Record<string, unknown>, actor = 'coordinator'): void {
    this.deps.store.appendAudit({
      federationId: this.federationId,
      kind,
      actor,
      subject: typeof data.round === 'number' ? `round:${data.round}` : null,
      data,
    });
  }
}

/** Stops a round's deadline (and, while it waits, its join-grace) timer. */
function clearTimers(active: ActiveRound): void {
  if (active.timer) clearTimeout(active.timer);
  active.timer = undefined;
  if (active.state === 'waiting') {
    if (active.graceTimer) clearTimeout(active.graceTimer);
    active.graceTimer = undefined;
  }
}
