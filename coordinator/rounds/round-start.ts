/** Starting a round's training: who is eligible, whether the policy lets the round start, and the task sent to the selected sites. */
import { poolChannelSpec, poolTabularSpec, type RoundTask } from '../../protocol/index.js';
import { selectionRules } from '../policy/index.js';
import { selectEligible, type Exclusion } from './selection.js';
import type { CurrentModel } from './model-registry.js';
import { openSecureRound } from './secure-driver.js';
import { taskTerms } from './task-terms.js';
import type { ActiveRound, RoundContext } from './round-context.js';

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
  const active = [...ctx.online.keys()].filter((institution) => ctx.deps.store.getInstitution(ctx.fed, institution)?.status === 'active');
  return selectEligible(active, (institution, participants) => ctx.consents.covers(institution, 'training', participants), {
    ...ctx.deps.rules,
    round,
  });
}

/**
 * Selects the waiting round's participants and sends them the training task; while too few are eligible (or a
 * selection rule fails) the round keeps waiting, and each new reason is reported once.
 * @example startTraining(ctx, a) // a.state is 'waiting'
 */
export function startTraining(ctx: RoundContext, a: ActiveRound): void {
  const { rules, store } = ctx.deps;
  const { participants, excluded } = eligible(ctx, a.round);
  const decisions = selectionRules(ctx.deps.federation.policy, participants.length, a.round);
  if (participants.length < rules.minParticipants || decisions.some((d) => !d.passed)) {
    // Keep waiting (more may come), and say once why the round cannot start yet.
    const why = JSON.stringify({ eligible: participants, excluded });
    if (a.blockedWhy !== why) {
      a.blockedWhy = why;
      const reason = blockedReason(ctx, participants.length, excluded);
      a.blockedReason = reason;
      store.transaction(() => {
        store.updateRound(ctx.fed, a.round, { reason });
        ctx.audit('round.blocked', { round: a.round, eligible: participants.length, needed: needed(ctx), excluded, decisions, reason });
      });
      ctx.deps.log.warn({ round: a.round, eligible: participants.length, excluded }, `round ${a.round} ${reason}`);
      ctx.events.emit('round:blocked', { round: a.round, eligible: participants.length, needed: needed(ctx), excluded, reason });
    }
    return;
  }
  if (!ctx.models.current) createInitialModel(ctx);
  const model = ctx.models.current as CurrentModel;
  const deadline = Date.now() + rules.roundTimeoutMs;
  if (a.timer) clearTimeout(a.timer);
  ctx.transition(a, 'training', () => {
    store.updateRound(ctx.fed, a.round, { selected: participants, deadline, decisions });
    for (const institution of participants) {
      store.addParticipation({
        federationId: ctx.fed,
        round: a.round,
        institutionId: institution,
        status: 'selected',
        updatedAt: Date.now(),
      });
    }
    ctx.audit('round.started', {
      round: a.round,
      baseVersion: model.version,
      participants,
      excluded,
      deadline,
      policyHash: ctx.deps.federation.policyHash,
      decisions,
    });
  });
  a.baseVersion = model.version;
  a.selected = new Set(participants);
  a.pending = new Set(participants);
  a.declared = new Map(participants.map((institution) => [institution, ctx.online.get(institution)?.samples ?? 0]));
  a.decisions = decisions;
  ctx.clip.reset();
  ctx.bound.reset();
  a.accumulator = ctx.deps.strategy.begin(
    model.tensors.map((t) => t.shape),
    model.tensors.map((t) => t.data),
  );
  a.timer = setTimeout(() => ctx.onDeadline(), rules.roundTimeoutMs);
  ctx.events.emit('round:started', { round: a.round, participants, excluded, baseVersion: model.version, deadline });
  const secagg = rules.secagg ? openSecureRound(ctx, a, participants) : undefined;
  const task: RoundTask = {
    ...taskTerms(ctx.deps.federation, a.round, deadline, participants.length, model),
    use: 'training',
    config: {
      ...rules.train,
      ...ctx.deps.strategy.trainConfig,
      ...(rules.dp ? { dpClipNorm: ctx.clip.current, ...(ctx.clip.adaptive ? { dpReportClip: true } : {}) } : {}),
    },
    ...(secagg ? { secagg } : {}),
  };
  if (!secagg) a.task = task;
  for (const institution of participants) {
    if (!ctx.deps.outbox.sendTask(institution, task)) ctx.drop(a, institution, 'not connected when the task was sent');
  }
  ctx.maybeClose();
}

/**
 * Why a waiting round cannot start, in words: each excluded institution with its consent or policy rule, and when a
 * consent asks for more other institutions than are enrolled, that it can never be met.
 * @example blockedReason(ctx, 0, excluded) // 'waiting: 0 of 2 required institutions eligible; site-1: CONSENT_TOO_FEW_INSTITUTIONS …'
 */
export function blockedReason(ctx: RoundContext, eligibleCount: number, excluded: Exclusion[]): string {
  const enrolled = ctx.deps.store.listInstitutions(ctx.fed).filter((i) => i.status === 'active').length;
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
function createInitialModel(ctx: RoundContext): void {
  let spec = ctx.spec;
  if (spec.features && !spec.normalization) {
    const stats = [...ctx.online.values()].flatMap((r) => (r.featureStats ? [r.featureStats] : []));
    if (stats.length > 0) {
      spec = poolTabularSpec(spec, stats);
      const normalized = spec;
      ctx.deps.store.transaction(() => {
        ctx.deps.store.updateFederation(ctx.fed, { spec: normalized });
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
  ctx.models.createInitial(spec, ctx.deps.rules.seed);
}

/** An image spec with pooled channel normalisation: the online sites' per-channel statistics pooled, stored and audited. */
function poolChannels(ctx: RoundContext, spec: RoundContext['spec']): RoundContext['spec'] {
  const stats = [...ctx.online.values()].flatMap((r) => (r.channelStats ? [r.channelStats] : []));
  if (stats.length === 0) return spec;
  const pooled = poolChannelSpec(spec, stats);
  ctx.deps.store.transaction(() => {
    ctx.deps.store.updateFederation(ctx.fed, { spec: pooled });
    ctx.audit('spec.channel-normalization', {
      sites: stats.length,
      pixels: stats.reduce((n, s) => n + s.count, 0),
      ...pooled.channelNormalization,
    });
  });
  return pooled;
}
