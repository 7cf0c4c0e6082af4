/** What a selected site answers besides its update: a decline (of training or evaluation) and its evaluation of the candidate. */
import { CohortError, knownCode, type ErrorCode, type EvaluationReport, type ReceivedDecline } from '../../protocol/index.js';
import type { ActiveRound, RoundContext, TrainingRound } from './round-context.js';

/** The sites a round still waits on (only a training round waits on any). */
export const pendingOf = (active: ActiveRound | undefined): ReadonlySet<string> =>
  active?.state === 'training' ? active.pending : new Set();

/**
 * Records that a selected institution will not take part (or evaluate), and why. A code this coordinator does not
 * know (an older or newer agent, or a hostile one) is recorded as UNKNOWN_CODE, with the code sent in the audit entry.
 * @example recordDecline(ctx, 'site-a', { round: 3, code: 'CONSENT_EXPIRED', message: 'consent expired on 2026-01-01' })
 */
export function recordDecline(ctx: RoundContext, institution: string, msg: ReceivedDecline): void {
  const code = knownCode(msg.code);
  const reported = code === msg.code ? {} : { reportedCode: msg.code };
  const active = ctx.active;
  if (active?.state === 'evaluating' && active.round === msg.round && active.evaluating.has(institution)) {
    ctx.audit('evaluation.declined', { round: active.round, code, ...reported, message: msg.message }, institution);
    ctx.events.emit('participant:declined', { round: active.round, institution, code, message: msg.message });
    active.evaluating.delete(institution);
    ctx.maybeDecide();
    return;
  }
  if (active && active.round === msg.round && !pendingOf(active).has(institution)) {
    // Already out of the round (e.g. its revocation arrived first): the decline changes nothing.
    const p = ctx.deps.store.getParticipation(ctx.federationId, active.round, institution);
    if (p?.status === 'declined') return;
  }
  if (active?.state !== 'training' || active.round !== msg.round || !active.pending.has(institution)) {
    throw new CohortError('ROUND_CLOSED', `round ${msg.round} is not waiting for ${institution}`);
  }
  declineNow(ctx, active, institution, code, msg.message, reported);
}

/**
 * A pending participant is out of the training round: recorded (participant.declined), announced, and training closes
 * once nobody is pending.
 * @example declineNow(ctx, training, 'site-a', 'CONSENT_REVOKED', 'the institution revoked its consent')
 */
export function declineNow(
  ctx: RoundContext,
  training: TrainingRound,
  institution: string,
  code: ErrorCode,
  message: string,
  extra: object = {},
): void {
  const { round } = training;
  ctx.deps.store.transaction(() => {
    ctx.deps.store.updateParticipation(ctx.federationId, round, institution, { status: 'declined', code, message });
    ctx.audit('participant.declined', { round, code, ...extra, message }, institution);
  });
  training.pending.delete(institution);
  ctx.events.emit('participant:declined', { round, institution, code, message });
  ctx.maybeClose();
}

/**
 * A contributing site's metrics of the candidate model, measured on its own validation rows.
 * @example recordEvaluation(ctx, 'site-a', { round: 3, valLoss: 0.4, valAccuracy: 0.9, valSamples: 120 })
 */
export function recordEvaluation(ctx: RoundContext, institution: string, report: EvaluationReport): void {
  const evaluating = ctx.active;
  if (evaluating?.state !== 'evaluating' || evaluating.round !== report.round)
    throw new CohortError('ROUND_CLOSED', `round ${report.round} is not being evaluated`);
  if (!evaluating.evaluating.has(institution))
    throw new CohortError(
      evaluating.siteMetrics.has(institution) ? 'DUPLICATE' : 'NOT_SELECTED',
      `${institution} has no evaluation pending for round ${report.round}`,
    );
  evaluating.siteMetrics.set(institution, report);
  evaluating.evaluating.delete(institution);
  ctx.audit('evaluation.received', { ...report, round: evaluating.round }, institution); // accuracy or R2, AUC...: what the task reports
  ctx.maybeDecide();
}
