/** Runs a federation's rounds: waits for participants, distributes the model, takes updates, aggregates, publishes. */
import { EventEmitter } from 'node:events';
import {
  CohortError,
  poolFeatureStats,
  toCohortError,
  type Decline,
  type LocalMetrics,
  type ModelSpec,
  type NamedTensor,
  type Ready,
  type RoundClosed,
  type RoundTask,
  type SignedModel,
} from '../../protocol/index.js';
import type { Identity } from '../../crypto/index.js';
import type { Federation, RoundMetrics, Store } from '../store/index.js';
import type { Accumulator, Strategy } from '../strategies/index.js';
import type { RoundRules } from '../config.js';
import { assertTransition, type RoundState } from './state-machine.js';
import { selectParticipants } from './selection.js';
import { intakeUpdate } from './update-intake.js';
import { ModelRegistry, type CurrentModel } from './model-registry.js';
import type { Logger } from 'pino';

/** What the runner needs to reach agents; implemented by the realtime layer. */
export interface Outbox {
  /** Sends a task to an online institution; false when it is not connected. */
  sendTask(institution: string, task: RoundTask): boolean;
  broadcast(event: 'round:closed', msg: RoundClosed): void;
  broadcast(event: 'federation:complete', msg: { rounds: number; finalVersion: number }): void;
}

export interface RunnerEventMap {
  'round:waiting': [{ round: number; online: number; needed: number }];
  'round:started': [{ round: number; participants: string[]; baseVersion: number; deadline: number }];
  'update:accepted': [{ round: number; institution: string; samples: number; digest: string; metrics: LocalMetrics }];
  'update:refused': [{ round: number; institution: string; code: string; message: string }];
  'participant:dropped': [{ round: number; institution: string; reason: string }];
  'round:published': [{ round: number; version: number; digest: string; metrics: RoundMetrics }];
  'round:failed': [{ round: number; reason: string }];
  'federation:complete': [{ rounds: number; finalVersion: number }];
  'federation:failed': [{ reason: string }];
}

interface ActiveRound {
  round: number;
  state: RoundState;
  baseVersion: number;
  selected: Set<string>;
  pending: Set<string>;
  /** Rows each participant declared (agent:ready) when it was selected: the most its update may claim. */
  declared?: Map<string, number>;
  accumulator?: Accumulator;
  metrics: MetricSums;
  timer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
}

interface MetricSums {
  participants: number;
  samples: number;
  trainLoss: number;
  trainAccuracy: number;
  valSamples: number;
  valLoss: number;
  valAccuracy: number;
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

  constructor(private readonly deps: RunnerDeps) {
    super();
    this.spec = deps.federation.spec;
    this.models = new ModelRegistry({ store: deps.store, identity: deps.identity, dataDir: deps.dataDir, federation: deps.federation.id });
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
    for (const r of store.listRounds(this.fed)) {
      if (r.state === 'published' || r.state === 'failed') continue;
      store.transaction(() => {
        store.updateRound(this.fed, r.round, { state: 'failed', closedAt: Date.now(), reason: 'coordinator restarted during the round' });
        for (const p of store.listParticipations(this.fed, r.round)) {
          if (p.status === 'selected') store.updateParticipation(this.fed, r.round, p.institutionId, { status: 'dropped', code: 'ROUND_CLOSED', message: 'coordinator restarted' });
        }
        this.audit('round.failed', { round: r.round, reason: 'coordinator restarted during the round' });
      });
    }
    if (federation?.status !== 'running') store.updateFederationStatus(this.fed, 'running');
    this.models.loadLatest(this.spec);
    if (this.models.current) this.spec = this.models.current.spec;
    this.openNextRound();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
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

  agentOnline(institution: string, ready: Ready): void {
    this.online.set(institution, ready);
    this.deps.store.touchInstitution(this.fed, institution);
    this.tryStart();
  }

  agentOffline(institution: string): void {
    this.online.delete(institution);
  }

  /** Throws unless `institution` may upload an update for `round` now. */
  assertCanUpload(institution: string, round: number): void {
    const a = this.active;
    if (!a || a.state !== 'training') throw new CohortError('ROUND_CLOSED', `no round is taking updates (round ${round} is closed)`);
    if (round !== a.round) throw new CohortError('WRONG_ROUND', `update for round ${round}, current round is ${a.round}`);
    if (!a.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${round}`);
    if (!a.pending.has(institution)) throw new CohortError('DUPLICATE', `${institution} already reported for round ${round}`);
  }

  /** Verifies, decrypts and folds one update into the running aggregate. */
  submitUpdate(institution: string, round: number, envelope: Uint8Array): { digest: string } {
    this.assertCanUpload(institution, round);
    const a = this.active as ActiveRound;
    const inst = this.deps.store.getInstitution(this.fed, institution);
    if (!inst) throw new CohortError('UNKNOWN_INSTITUTION', `${institution} is not enrolled`);
    let accepted;
    try {
      accepted = intakeUpdate(envelope, {
        federation: this.fed,
        round,
        institution,
        baseVersion: a.baseVersion,
        spec: this.spec,
        coordinator: this.deps.identity,
        institutionSignPublicKey: Buffer.from(inst.signPublicKey, 'base64'),
        maxPayloadBytes: this.deps.maxPayloadBytes,
      });
      // FedAvg weights by the claimed count: no more rows than the site declared when it was selected.
      const declared = a.declared?.get(institution) ?? 0;
      if (accepted.meta.samples > declared) {
        throw new CohortError('BAD_SAMPLE_COUNT', `update claims ${accepted.meta.samples} training samples, but ${institution} declared ${declared} when the round started`);
      }
      (a.accumulator as Accumulator).add(
        accepted.tensors.map((t) => t.data),
        accepted.meta.samples,
      );
    } catch (cause) {
      const err = toCohortError(cause);
      this.refuse(a, institution, err.code, err.message, envelope.length);
      throw err;
    }
    const { meta, digest } = accepted;
    this.deps.store.transaction(() => {
      this.deps.store.updateParticipation(this.fed, round, institution, {
        status: 'accepted',
        samples: meta.samples,
        digest,
        bytes: envelope.length,
        metrics: meta.metrics,
      });
      this.audit('update.accepted', { round, digest, bytes: envelope.length, samples: meta.samples }, institution);
    });
    addMetrics(a.metrics, meta.samples, meta.metrics);
    a.pending.delete(institution);
    this.emit('update:accepted', { round, institution, samples: meta.samples, digest, metrics: meta.metrics });
    this.maybeClose();
    return { digest };
  }

  /** Records that a selected institution will not take part, and why. */
  decline(institution: string, msg: Decline): void {
    const a = this.active;
    if (!a || a.round !== msg.round || !a.pending.has(institution)) {
      throw new CohortError('ROUND_CLOSED', `round ${msg.round} is not waiting for ${institution}`);
    }
    this.deps.store.transaction(() => {
      this.deps.store.updateParticipation(this.fed, a.round, institution, { status: 'declined', code: msg.code, message: msg.message });
      this.audit('participant.declined', { round: a.round, code: msg.code, message: msg.message }, institution);
    });
    a.pending.delete(institution);
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
      return this.failFederation(`${this.consecutiveFailures} consecutive rounds failed`);
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
      });
      this.audit('round.opened', { round, minParticipants: rules.minParticipants, deadline });
    });
    this.active = { round, state: 'waiting', baseVersion: 0, selected: new Set(), pending: new Set(), metrics: emptyMetrics() };
    this.active.timer = setTimeout(() => this.failRound(`only ${this.online.size} of ${rules.minParticipants} required institutions came online before the deadline`), rules.waitTimeoutMs);
    this.emit('round:waiting', { round, online: this.online.size, needed: rules.minParticipants });
    this.tryStart();
  }

  private tryStart(): void {
    const a = this.active;
    if (!a || a.state !== 'waiting' || this.stopped) return;
    const { rules } = this.deps;
    if (this.online.size < rules.minParticipants) return;
    const enrolled = this.deps.store.listInstitutions(this.fed).filter((i) => i.status === 'active').length;
    if (this.online.size >= enrolled || rules.joinGraceMs === 0) return this.startTraining();
    a.graceTimer ??= setTimeout(() => this.startTraining(), rules.joinGraceMs);
  }

  private startTraining(): void {
    const a = this.active;
    if (!a || a.state !== 'waiting' || this.stopped) return;
    const { rules, store } = this.deps;
    if (this.online.size < rules.minParticipants) {
      a.graceTimer = undefined;
      return;
    }
    this.clearTimers();
    if (!this.models.current) this.createInitialModel();
    const model = this.models.current as CurrentModel;
    const participants = selectParticipants([...this.online.keys()], { ...rules, round: a.round });
    const deadline = Date.now() + rules.roundTimeoutMs;
    this.transition(a, 'training', () => {
      store.updateRound(this.fed, a.round, { selected: participants, deadline });
      for (const institution of participants) {
        store.addParticipation({ federationId: this.fed, round: a.round, institutionId: institution, status: 'selected', updatedAt: Date.now() });
      }
      this.audit('round.started', { round: a.round, baseVersion: model.version, participants, deadline });
    });
    a.baseVersion = model.version;
    a.selected = new Set(participants);
    a.pending = new Set(participants);
    a.declared = new Map(participants.map((institution) => [institution, this.online.get(institution)?.samples ?? 0]));
    a.accumulator = this.deps.strategy.begin(
      model.tensors.map((t) => t.shape),
      model.tensors.map((t) => t.data),
    );
    a.timer = setTimeout(() => this.onDeadline(), rules.roundTimeoutMs);
    this.emit('round:started', { round: a.round, participants, baseVersion: model.version, deadline });
    const task: RoundTask = { federation: this.fed, round: a.round, deadline, config: rules.train, model: model.signed };
    for (const institution of participants) {
      if (!this.deps.outbox.sendTask(institution, task)) this.drop(a, institution, 'not connected when the task was sent');
    }
    this.maybeClose();
  }

  /** Version 0: seeded initial weights; tabular specs get federation-wide normalisation from the sites' statistics. */
  private createInitialModel(): void {
    let spec = this.spec;
    if (spec.features && !spec.normalization) {
      const stats = [...this.online.values()].flatMap((r) => (r.featureStats ? [r.featureStats] : []));
      if (stats.length > 0) {
        spec = { ...spec, normalization: poolFeatureStats(stats) };
        this.audit('spec.normalization', { sites: stats.length, samples: stats.reduce((n, s) => n + s.count, 0) });
      }
    }
    this.spec = spec;
    this.models.createInitial(spec, this.deps.rules.seed);
  }

  private onDeadline(): void {
    const a = this.active;
    if (!a || a.state !== 'training') return;
    for (const institution of [...a.pending]) this.drop(a, institution, 'no update before the round deadline');
    this.closeTraining();
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

  private closeTraining(): void {
    const a = this.active as ActiveRound;
    this.clearTimers();
    const accepted = a.accumulator?.count ?? 0;
    const min = this.deps.rules.minParticipants;
    if (accepted < min) return this.failRound(`only ${accepted} of ${min} required updates were accepted`);
    this.transition(a, 'aggregating', () => this.audit('round.aggregating', { round: a.round, updates: accepted }));
    let published;
    try {
      const result = (a.accumulator as Accumulator).result();
      if (!result) return this.failRound('the strategy produced no model');
      const base = this.models.current as CurrentModel;
      const tensors: NamedTensor[] = base.tensors.map((t, i) => ({ name: t.name, shape: t.shape, data: result[i] as Float32Array }));
      const metrics = finishMetrics(a.metrics);
      published = this.deps.store.transaction(() => {
        const model = this.models.publish(this.spec, tensors, a.round, base.version);
        this.deps.store.updateRound(this.fed, a.round, { state: 'published', resultVersion: model.version, closedAt: Date.now(), metrics });
        this.audit('model.published', { round: a.round, version: model.version, digest: model.digest, parentVersion: base.version, metrics });
        return { version: model.version, digest: model.digest, metrics };
      });
    } catch (cause) {
      return this.failRound(`aggregation failed: ${toCohortError(cause).message}`);
    }
    a.state = 'published';
    this.consecutiveFailures = 0;
    this.deps.log.info({ round: a.round, version: published.version }, 'model published');
    this.deps.outbox.broadcast('round:closed', { round: a.round, state: 'published', version: published.version });
    this.emit('round:published', { round: a.round, ...published });
    this.active = undefined;
    setImmediate(() => this.openNextRound());
  }

  private failRound(reason: string): void {
    const a = this.active as ActiveRound;
    this.clearTimers();
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

function emptyMetrics(): MetricSums {
  return { participants: 0, samples: 0, trainLoss: 0, trainAccuracy: 0, valSamples: 0, valLoss: 0, valAccuracy: 0 };
}

function addMetrics(m: MetricSums, samples: number, local: LocalMetrics): void {
  m.participants += 1;
  m.samples += samples;
  m.trainLoss += samples * local.trainLoss;
  m.trainAccuracy += samples * local.trainAccuracy;
  if (local.valSamples && local.valLoss !== undefined && local.valAccuracy !== undefined) {
    m.valSamples += local.valSamples;
    m.valLoss += local.valSamples * local.valLoss;
    m.valAccuracy += local.valSamples * local.valAccuracy;
  }
}

/** Sample-weighted means of the participants' local metrics. */
function finishMetrics(m: MetricSums): RoundMetrics {
  const out: RoundMetrics = {
    participants: m.participants,
    samples: m.samples,
    trainLoss: m.trainLoss / m.samples,
    trainAccuracy: m.trainAccuracy / m.samples,
  };
  if (m.valSamples > 0) {
    out.valLoss = m.valLoss / m.valSamples;
    out.valAccuracy = m.valAccuracy / m.valSamples;
  }
  return out;
}

export type { SignedModel };
