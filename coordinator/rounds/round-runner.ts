/** Runs a federation's rounds: waits for eligible participants, distributes the model, takes updates, aggregates, evaluates, gates, publishes. */
import { EventEmitter } from 'node:events';
import {
  CohortError,
  toCohortError,
  ErrorCode,
  type Decline,
  type EvaluationReport,
  type ModelSpec,
  type Ready,
  type StudyManifest,
  type SignedRevocation,
} from '../../protocol/index.js';
import { ConsentRegistry } from '../policy/index.js';
import { assertTransition, isTerminal, type RoundState } from '../store/round-states.js';
import { ClipNorm } from './clip-norm.js';
import { UpdateBound } from './update-bound.js';
import { ModelRegistry, type CurrentModel } from './model-registry.js';
import { emptyMetrics } from './metrics.js';
import { spentAfter } from '../privacy.js';
import type { RunnerDeps, RunnerEventMap } from './runner-types.js';
import type { ActiveRound, RoundContext } from './round-context.js';
import { intakeFor, refuse, submitPlain } from './update-submission.js';
import { secAggMessage, submitMasked } from './secure-driver.js';
import { eligible, needed, startTraining } from './round-start.js';
import { judge, publish, releasedRounds, withhold } from './publication.js';
import { closeTraining } from './aggregation.js';
import { resume } from './resume.js';

export type { Outbox, RunnerDeps, RunnerEventMap } from './runner-types.js';

const isErrorCode = (code: string | null): code is ErrorCode => code !== null && code in ErrorCode;

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
      fed: deps.federation.id,
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
      transition: (a, to, also) => this.transition(a, to, also),
      failRound: (reason) => this.failRound(reason),
      drop: (a, institution, reason) => this.drop(a, institution, reason),
      maybeClose: () => this.maybeClose(),
      onDeadline: () => this.onDeadline(),
      maybeDecide: () => this.maybeDecide(),
      clearTimers: () => this.clearTimers(),
    };
  }

  private get fed(): string {
    return this.deps.federation.id;
  }

  /** Resumes after a restart (unfinished rounds fail cleanly) and opens the next round. */
  start(): void {
    const { store } = this.deps;
    const federation = store.getFederation(this.fed);
    if (federation?.status === 'completed') {
      this.deps.log.info({ federation: this.fed }, 'federation already completed');
      return;
    }
    if (!resume(this.ctx, federation)) return;
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

  /** Why the federation stopped as failed (undefined while it runs or once it completed). */
  get failedReason(): string | undefined {
    return this.failure;
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
    if (a?.state === 'training' && a.pending.has(institution))
      this.declineNow(a, institution, 'CONSENT_REVOKED', 'the institution revoked its consent');
    if (a?.state === 'evaluating' && a.evaluating.has(institution)) {
      a.evaluating.delete(institution);
      this.maybeDecide();
    }
  }

  /** Throws unless `institution` may upload an update for `round` now. */
  assertCanUpload(institution: string, round: number): void {
    if (this.consents.isRevoked(institution)) this.refuseRevoked(institution, round);
    const a = this.active;
    if (!a || a.state !== 'training' || round !== a.round) this.assertNotLate(institution, round);
    if (!a || a.state !== 'training') throw new CohortError('ROUND_CLOSED', `no round is taking updates (round ${round} is closed)`);
    if (round !== a.round) throw new CohortError('WRONG_ROUND', `update for round ${round}, current round is ${a.round}`);
    if (!a.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${round}`);
    if (!a.pending.has(institution)) {
      // A site retrying after a lost acknowledgement learns what became of the update it sent.
      const p = this.deps.store.getParticipation(this.fed, round, institution);
      if (p?.status === 'refused')
        throw new CohortError(
          isErrorCode(p.code) ? p.code : 'BAD_REQUEST',
          `${institution}'s update for round ${round} was refused: ${p.message ?? ''}`,
        );
      throw new CohortError('DUPLICATE', `${institution} already reported for round ${round}`);
    }
  }

  /**
   * An update from an institution whose revocation is on record is refused, whatever round it is for and even when the
   * institution was selected before it revoked: audited (update.refused, CONSENT_REVOKED), then thrown.
   */
  private refuseRevoked(institution: string, round: number): never {
    const message = `${institution} revoked its consent: its update for round ${round} is refused`;
    const a = this.active;
    if (a?.state === 'training' && a.round === round && a.pending.has(institution))
      refuse(this.ctx, a, institution, 'CONSENT_REVOKED', message, 0);
    else this.audit('update.refused', { round, code: 'CONSENT_REVOKED', message }, institution);
    throw new CohortError('CONSENT_REVOKED', message);
  }

  /** A site dropped at a round's deadline is told so when its update for that round arrives after it. */
  private assertNotLate(institution: string, round: number): void {
    const p = this.deps.store.getParticipation(this.fed, round, institution);
    if (p?.status !== 'dropped' || p.code !== 'DEADLINE_PASSED') return;
    const deadline = this.deps.store.getRound(this.fed, round)?.deadline;
    throw new CohortError(
      'DEADLINE_PASSED',
      `round ${round}'s deadline passed${deadline ? ` at ${new Date(deadline).toISOString()}` : ''}: it closed without ${institution}'s update`,
    );
  }

  /** Verifies, decrypts and folds one update into the running aggregate. */
  submitUpdate(institution: string, round: number, envelope: Uint8Array): { digest: string } {
    this.assertCanUpload(institution, round);
    const a = this.active as ActiveRound;
    const intake = intakeFor(this.ctx, a, institution);
    if (a.secure) return submitMasked(this.ctx, a, institution, round, envelope, intake);
    return submitPlain(this.ctx, a, institution, round, envelope, intake);
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
    if (!a || a.state !== 'evaluating' || a.round !== report.round)
      throw new CohortError('ROUND_CLOSED', `round ${report.round} is not being evaluated`);
    if (!a.evaluating.has(institution))
      throw new CohortError(
        a.siteMetrics.has(institution) ? 'DUPLICATE' : 'NOT_SELECTED',
        `${institution} has no evaluation pending for round ${report.round}`,
      );
    a.siteMetrics.set(institution, report);
    a.evaluating.delete(institution);
    this.audit('evaluation.received', { ...report, round: a.round }, institution); // accuracy or R2, AUC...: what the task reports
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

  private openNextRound(): void {
    if (this.stopped) return;
    const { store, rules } = this.deps;
    const published = store.listRounds(this.fed).filter((r) => r.state === 'published').length;
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
      const count = eligible(this.ctx, round).participants.length;
      const blocked = this.active?.blockedReason;
      this.failRound(
        `only ${count} eligible institutions (online, with consent in force) of the ${needed(this.ctx)} required came forward before the deadline${blocked ? ` (${blocked})` : ''}`,
      );
    }, rules.waitTimeoutMs);
    this.emit('round:waiting', { round, online: this.online.size, needed: needed(this.ctx) });
    this.tryStart();
  }

  private tryStart(): void {
    const a = this.active;
    if (!a || a.state !== 'waiting' || this.stopped) return;
    const { rules } = this.deps;
    if (this.online.size < needed(this.ctx)) return;
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
    startTraining(this.ctx, a);
  }

  private onDeadline(): void {
    const a = this.active;
    if (!a) return;
    if (a.state === 'training') {
      for (const institution of [...a.pending]) this.drop(a, institution, 'no update before the round deadline');
      closeTraining(this.ctx, a);
    } else if (a.state === 'evaluating') {
      for (const institution of a.evaluating)
        this.audit('evaluation.missing', { round: a.round, reason: 'no evaluation before the deadline' }, institution);
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
    if (a && a.state === 'training' && a.pending.size === 0) closeTraining(this.ctx, a);
  }

  private maybeDecide(): void {
    const a = this.active;
    if (a && a.state === 'evaluating' && a.evaluating.size === 0) this.decide();
  }

  /** Every policy rule, before publication: all pass and the candidate is published, else it is withheld. */
  private decide(): void {
    const a = this.active as ActiveRound;
    this.clearTimers();
    const verdict = judge(this.ctx, a);
    if (!verdict.published) {
      const reason = withhold(this.ctx, a, verdict);
      this.consecutiveFailures += 1;
      this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'withheld', reason });
      this.emit('round:withheld', { round: a.round, decisions: verdict.decisions, reason });
      this.active = undefined;
      setImmediate(() => this.openNextRound());
      return;
    }
    let result;
    try {
      result = publish(this.ctx, a, verdict);
    } catch (cause) {
      a.state = 'evaluating';
      return this.failRound(`publication failed: ${toCohortError(cause).message}`);
    }
    a.state = 'published';
    this.consecutiveFailures = 0;
    this.deps.log.info({ round: a.round, version: result.version }, 'model published');
    this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'published', version: result.version });
    this.emit('round:published', {
      round: a.round,
      version: result.version,
      digest: result.digest,
      metrics: result.metrics,
      decisions: verdict.all,
    });
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  private failRound(reason: string): void {
    const a = this.active as ActiveRound;
    this.recordFailure(a, reason);
    this.consecutiveFailures += 1;
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  /** Closes the round as failed: timers cleared, secrets disposed, pending sites dropped, audited, announced. */
  private recordFailure(a: ActiveRound, reason: string): void {
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
    this.deps.log.warn({ round: a.round }, `round failed: ${reason}`);
    this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'failed', reason });
    this.emit('round:failed', { round: a.round, reason });
  }

  /**
   * A graceful stop (SIGTERM): the round in progress is recorded as failed with `reason`, so the next start opens a fresh
   * one, `coordinator.stopped` is audited, and nothing more runs.
   * @example process.once('SIGTERM', () => runner.shutdown('coordinator stopped (SIGTERM)'))
   */
  shutdown(reason: string): void {
    const a = this.active;
    if (a && !isTerminal(a.state) && !this.stopped) this.recordFailure(a, reason);
    if (!this.stopped) this.audit('coordinator.stopped', { reason, round: a?.round ?? null });
    this.active = undefined;
    this.stop();
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
    this.failure = reason;
    this.deps.log.error({ federation: this.fed }, `federation failed: ${reason}`);
    this.deps.outbox.broadcast('federation:failed', { reason });
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
    this.deps.store.appendAudit({
      federationId: this.fed,
      kind,
      actor,
      subject: typeof data.round === 'number' ? `round:${data.round}` : null,
      data,
    });
  }
}
