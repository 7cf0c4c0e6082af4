/** Whether a site may upload an update now, and the coded refusal when not (revoked, late, closed, wrong round, not selected, duplicate). */
import { CohortError, isErrorCode } from '../../protocol/index.js';
import { refuse } from './update-submission.js';
import type { RoundContext, TrainingRound } from './round-context.js';

/**
 * Throws unless `institution` may upload an update for `round` now; the training round it may upload to.
 * @example const training = admitUpload(ctx, 'site-a', 3) // throws WRONG_ROUND while round 4 trains
 */
export function admitUpload(ctx: RoundContext, institution: string, round: number): TrainingRound {
  if (ctx.consents.isRevoked(institution)) refuseRevoked(ctx, institution, round);
  const training = ctx.active;
  if (training?.state !== 'training' || round !== training.round) assertNotLate(ctx, institution, round);
  if (training?.state !== 'training') throw new CohortError('ROUND_CLOSED', `no round is taking updates (round ${round} is closed)`);
  if (round !== training.round) throw new CohortError('WRONG_ROUND', `update for round ${round}, current round is ${training.round}`);
  if (!training.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${round}`);
  if (!training.pending.has(institution)) {
    // A site retrying after a lost acknowledgement learns what became of the update it sent.
    const p = ctx.deps.store.getParticipation(ctx.federationId, round, institution);
    if (p?.status === 'refused')
      throw new CohortError(
        isErrorCode(p.code) ? p.code : 'BAD_REQUEST',
        `${institution}'s update for round ${round} was refused: ${p.message ?? ''}`,
      );
    throw new CohortError('DUPLICATE', `${institution} already reported for round ${round}`);
  }
  return training;
}

/**
 * An update from an institution whose revocation is on record is refused, whatever round it is for and even when the
 * institution was selected before it revoked: audited (update.refused, CONSENT_REVOKED), then thrown.
 */
function refuseRevoked(ctx: RoundContext, institution: string, round: number): never {
  const message = `${institution} revoked its consent: its update for round ${round} is refused`;
  const active = ctx.active;
  if (active?.state === 'training' && active.round === round && active.pending.has(institution))
    refuse(ctx, active, institution, 'CONSENT_REVOKED', message, 0);
  else ctx.audit('update.refused', { round, code: 'CONSENT_REVOKED', message }, institution);
  throw new CohortError('CONSENT_REVOKED', message);
}

/** A site dropped at a round's deadline is told so when its update for that round arrives after it. */
function assertNotLate(ctx: RoundContext, institution: string, round: number): void {
  const p = ctx.deps.store.getParticipation(ctx.federationId, round, institution);
  if (p?.status !== 'dropped' || p.code !== 'DEADLINE_PASSED') return;
  const deadline = ctx.deps.store.getRound(ctx.federationId, round)?.deadline;
  throw new CohortError(
    'DEADLINE_PASSED',
    `round ${round}'s deadline passed${deadline ? ` at ${new Date(deadline).toISOString()}` : ''}: it closed without ${institution}'s update`,
  );
}
