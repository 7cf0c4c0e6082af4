/** Starting a round's training: who is eligible, whether the policy lets the round start, and the task sent to the selected sites. */
import { poolChannelSpec, poolTabularSpec, type RoundTask } from '../../protocol/index.js';
import { selectionRules, type RuleDecision } from '../policy/index.js';
import { selectEligible, type Exclusion } from './selection.js';
import type { CurrentModel } from './model-registry.js';
import { emptyMetrics } from './metrics.js';
import { openSecureRound } from './secure-driver.js';
import { taskTerms } from './task-terms.js';
import type { RoundContext, TrainingRound, WaitingRound } from './round-context.js';

/**
 * The fewest participants a round can start with: the rules' minimum and the policy's.
 * @example if (ctx.online.size < needed(ctx)) return;
 */
export function needed(ctx: RoundContext): number {
  return Math.max(ctx.deps.rules.minParticipants, ctx.deps.federation.policy.minInstitutionsPerRound);
}

/**
 * Online institutions whose consent covers training (given the round's size, which their own
 * limits may depend on), selected by fraction C; those excluded and why.
 * @example const { participants, excluded } = eligible(ctx, 3)
 */
export function eligible(ctx: RoundContext, round: number): { participants: string[]; excluded: Exclusion[] } {
  // A suspended institution's open session does not make it eligible: status is read at every selection.
  const active = [...ctx.online.keys()].filter(
    (institution) => ctx.deps.store.getInstitution(ctx.federationId, institution)?.status === 'active',
  );
  return selectEligible(active, (institution, participants) => ctx.consents.covers(institution, 'training', participants), {
    ...ctx.deps.rules,
    round,
  });
}

/**
 * Selects the waiting round's participants and sends them the training task; while too few are eligible (or a
 * selection rule fails) the round keeps waiting, and each new reason is reported once.
 * @example startTraining(ctx, waiting)
 */
export function startTraining(ctx: RoundContext, waiting: WaitingRound): void {
  const { rules, store } = ctx.deps;
  const { round } = waiting;
  const { participants, excluded } = eligible(ctx, round);
  const decisions = selectionRules(ctx.deps.federation.policy, participants.length, round);
  if (participants.length < rules.minParticipants || decisions.some((d) => !d.passed)) {
    return reportBlocked(ctx, waiting, participants, excluded, decisions);
  }
  const model = ctx.models.current ?? createInitialModel(ctx);
  const deadline = Date.now() + rules.roundTimeoutMs;
  const next: TrainingRound = {
    state: 'training',
    round,
    base: model,
    selected: new Set(participants),
    pending: new Set(participants),
    declared: new Map(participants.map((institution) => [institution, ctx.online.get(institution)?.samples ?? 0])),
    accepted: [],
    accumulator: ctx.deps.strategy.begin(
      model.tensors.map((t) => t.shape),
      model.tensors.map((t) => t.data),
    ),
    metrics: emptyMetrics(),
    decisions,
  };
  const training = ctx.enter(waiting, next, () => {
    store.updateRound(ctx.federationId, round, { selected: participants, deadline, decisions });
    for (const institution of participants) {
      store.addParticipation({
        federationId: ctx.federationId,
        round,
        institutionId: institution,
        status: 'selected',
        updatedAt: Date.now(),
      });
    }
    ctx.audit('round.started', {
      round,
      baseVersion: model.version,
      participants,
      excluded,
      deadline,
      policyHash: ctx.deps.federation.policyHash,
      decisions,
    });
  });
  ctx.clip.reset();
  ctx.bound.reset();
  training.timer = setTimeout(() => ctx.onDeadline(), rules.roundTimeoutMs);
  ctx.events.emit('round:started', { round, participants, excluded, baseVersion: model.version, deadline });
  const secagg = rules.secagg ? openSecureRound(ctx, training, participants) : undefined;
  const task: RoundTask = {
    ...taskTerms(ctx.deps.federation, round, deadline, participants.length, model),
    use: 'training',
    config: {
      ...rules.train,
      ...ctx.deps.strategy.trainConfig,
      ...(rules.dp ? { dpClipNorm: ctx.clip.current, ...(ctx.clip.adaptive ? { dpReportClip: true } : {}) } : {}),
    },
    ...(secagg ? { secagg } : {}),
  };
  if (!secagg) training.task = task;
  for (const institution of participants) {
    if (!ctx.deps.outbox.sendTask(institution, task)) ctx.drop(training, institution, 'not connected when the task was sent');
  }
  ctx.maybeClose();
}

/** The round keeps waiting (more may come): says once, for each new reason, why it cannot start yet. */
function reportBlocked(
  ctx: RoundContext,
  waiting: WaitingRound,
  participants: string[],
  excluded: Exclusion[],
  decisions: RuleDecision[],
): void {
  const { store } = ctx.deps;
  const { round } = waiting;
  const why = JSON.stringify({ eligible: participants, excluded });
  if (waiting.blockedWhy === why) return;
  waiting.blockedWhy = why;
  const reason = blockedReason(ctx, participants.length, excluded);
  waiting.blockedReason = reason;
  store.transaction(() => {
    store.updateRound(ctx.federationId, round, { reason });
    ctx.audit('round.blocked', { round, eligible: participants.length, needed: needed(ctx), excluded, decisions, reason });
  });
  ctx.deps.log.warn({ round, eligible: participants.length, excluded }, `round ${round} ${reason}`);
  ctx.events.emit('round:blocked', { round, eligible: participants.length, needed: needed(ctx), excluded, reason });
}

/**
 * Why a waiting round cannot start, in words: each excluded institution with its consent or policy rule, and when a
 * consent asks for more other institutions than are enrolled, that it can never be met.
 * @example blockedReason(ctx, 0, excluded) // 'waiting: 0 of 2 required institutions eligible; site-1: CONSENT_TOO_FEW_INSTITUTIONS …'
 */
export function blockedReason(ctx: RoundContext, eligibleCount: number, excluded: Exclusion[]): string {
  const enrolled = ctx.deps.store.listInstitutions(ctx.federationId).filter((i) => i.status === 'active').length;
  const parts = excluded.map(({ institution, code, message }) => {
    const min = code === 'CONSENT_TOO_FEW_INSTITUTIONS' ? ctx.consents.minOtherInstitutions(institution) : null;
    const never =
      min !== null && enrolled - 1 < min ? `; only ${enrolled} institutions are enrolled, so this consent can never be met` : '';
    return `${institution}: ${code} (${message}${never})`;
  });
  return `waiting: ${eligibleCount} of ${needed(ctx)} required institutions eligible${parts.length > 0 ? `; ${parts.join('; ')}` : ''}`;
}

/**
 * Version 0: seeded initial weights; tabular specs get federation-wide normalisation (and, with preprocessing, the
 * imputation values: pooled means of the non-missing values) from the sites' statistics.
 */
function createInitialModel(ctx: RoundContext): CurrentModel {
  let spec = ctx.spec;
  if (spec.features && !spec.normalization) {
    const stats = [...ctx.online.values()].flatMap((r) => (r.featureStats ? [r.featureStats] : []));
    if (stats.length > 0) {
      spec = poolTabularSpec(spec, stats);
      const normalized = spec;
      ctx.deps.store.transaction(() => {
        ctx.deps.store.updateFederation(ctx.federationId, { spec: normalized });
        ctx.audit('spec.normalization', {
          sites: stats.length,
          samples: stats.reduce((n, s) => n + s.count, 0),
          ...(normalized.preprocessing?.impute ? { imputed: Object.keys(normalized.preprocessing.impute) } : {}),
        });
      });
    }
  }
  if (spec.channelNormalization && !spec.channelNormalization.mean) spec = poolChannels(ctx, spec);
  ctx.spec = spec;
  return ctx.models.createInitial(spec, ctx.deps.rules.seed);
}

/** An image spec with pooled channel normalisation: the online sites' per-channel statistics pooled, stored and audited. */
function poolChannels(ctx: RoundContext, spec: RoundContext['spec']): RoundContext['spec'] {
  const stats = [...ctx.online.values()].flatMap((r) => (r.channelStats ? [r.channelStats] : []));
  if (stats.length === 0) return spec;
  const pooled = poolChannelSpec(spec, stats);
  ctx.deps.store.transaction(() => {
    ctx.deps.store.updateFederation(ctx.federationId, { spec: pooled });
    ctx.audit('spec.channel-normalization', {
      sites: stats.length,
      pixels: stats.reduce((n, s) => n + s.count, 0),
      ...pooled.channelNormalization,
    });
  });
  return pooled;
}
