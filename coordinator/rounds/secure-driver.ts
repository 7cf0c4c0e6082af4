/** Secure aggregation at the runner: opens a round's SecureRound, routes its messages and masked inputs, and turns its outcome into the candidate's sum. */
import { CohortError, toCohortError, type SecAggTerms } from '../../protocol/index.js';
import type { secagg } from '../../crypto/index.js';
import { intakeMasked, type IntakeContext } from './update-intake.js';
import { SecureRound } from './secure-round.js';
import { secureTerms } from './secure-terms.js';
import { checkSamples, counted, refuse, storeAccepted, type Submitted } from './update-submission.js';
import { aggregateAndEvaluate } from './aggregation.js';
import { failWith, proceed, type RoundContext, type StepOutcome, type TrainingRound } from './round-context.js';

/**
 * Starts the round's secure aggregation and returns the terms every participant's task carries.
 * @example const secagg = rules.secagg ? openSecureRound(ctx, training, participants) : undefined
 */
export function openSecureRound(ctx: RoundContext, training: TrainingRound, participants: string[]): SecAggTerms {
  const { round } = training;
  const { terms, config } = secureTerms({
    federation: ctx.federationId,
    round,
    rules: ctx.deps.rules,
    spec: ctx.spec,
    participants: participants.map((id) => ({
      id,
      signPublicKey: Buffer.from(ctx.deps.store.getInstitution(ctx.federationId, id)?.signPublicKey ?? '', 'base64'),
    })),
    maxDeclared: Math.max(1, ...training.declared.values()),
  });
  training.secure = new SecureRound({
    round,
    terms,
    config,
    stepTimeoutMs: ctx.deps.rules.secagg?.stepTimeoutMs ?? 30_000,
    send: (institution, event, msg) => ctx.deps.outbox.sendSecAgg(institution, event, msg),
    audit: (kind, data, actor) => ctx.audit(kind, data, actor),
    onDropped: (institution, reason) => {
      const now = ctx.active;
      if (now?.state !== 'training' || now.round !== round || !now.pending.has(institution)) return;
      ctx.drop(now, institution, reason);
      ctx.maybeClose();
    },
    onOutcome: (outcome) => ctx.settle(onSecureOutcome(ctx, round, outcome)),
  });
  return terms;
}

/**
 * A secure-aggregation message from a participant of the current round; throws (and the socket layer audits the
 * refusal) when it is not expected now or does not verify.
 * @example secAggMessage(ctx, 'site-a', 'advertise', msg)
 */
export function secAggMessage(
  ctx: RoundContext,
  institution: string,
  step: 'advertise' | 'share-keys' | 'consistency' | 'unmask',
  msg: unknown,
): void {
  const active = ctx.active;
  const round = (msg as { round?: unknown }).round;
  if (!active || active.state === 'waiting' || !active.secure)
    throw new CohortError('ROUND_CLOSED', 'no secure-aggregation round is running');
  const { secure } = active;
  if (round !== active.round)
    throw new CohortError('WRONG_ROUND', `secure-aggregation message for round ${String(round)}, current round is ${active.round}`);
  if (!active.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${active.round}`);
  if (step === 'advertise') secure.advertise(institution, msg as Parameters<SecureRound['advertise']>[1]);
  else if (step === 'share-keys') secure.shareKeys(institution, msg as Parameters<SecureRound['shareKeys']>[1]);
  else if (step === 'consistency') secure.consistency(institution, msg as Parameters<SecureRound['consistency']>[1]);
  else secure.unmask(institution, msg as Parameters<SecureRound['unmask']>[1]);
}

/**
 * Under secure aggregation: checks a masked input's envelope and metadata and adds it to the masked sum.
 * @example const submitted = submitMasked(ctx, training, secure, 'site-a', envelope, intakeFor(ctx, training, 'site-a'))
 */
export function submitMasked(
  ctx: RoundContext,
  training: TrainingRound,
  secure: SecureRound,
  institution: string,
  envelope: Uint8Array,
  intake: IntakeContext,
): Submitted {
  let accepted;
  try {
    accepted = intakeMasked(envelope, intake);
    checkSamples(ctx, training, institution, accepted.meta.samples);
    secure.masked(institution, accepted.frame);
  } catch (cause) {
    const err = toCohortError(cause);
    refuse(ctx, training, institution, err.code, err.message, envelope.length);
    throw err;
  }
  const { meta, digest } = accepted;
  try {
    storeAccepted(ctx, training.round, institution, meta, digest, envelope.length, { masked: true });
  } catch (cause) {
    // Already in the masked sum (the protocol adds it as it verifies it) but not recorded: the sum no longer matches the record.
    const error = toCohortError(cause);
    return { ok: false, reason: `${institution}'s masked input is in the sum but could not be recorded: ${error.message}`, error };
  }
  return counted(ctx, training, institution, meta, digest);
}

/**
 * Secure aggregation of `round` ended: the average update joins the strategy (as one update of the total weight) and
 * the candidate goes to evaluation, or the round fails. A late outcome (the round closed meanwhile) changes nothing.
 */
function onSecureOutcome(ctx: RoundContext, round: number, outcome: secagg.ServerOutcome): StepOutcome {
  const active = ctx.active;
  if (active?.round !== round || (active.state !== 'aggregating' && active.state !== 'training')) return proceed;
  if (!outcome.ok) {
    for (const b of outcome.blame)
      ctx.audit('secagg.blame', { round, reason: b.reason, evidence: b.evidence, message: b.message }, b.participant);
    return failWith(`secure aggregation failed (${outcome.failure.code} at ${outcome.failure.step}): ${outcome.failure.message}`);
  }
  // Unmasking ends only after training closed (the masked inputs are in): the round is aggregating.
  if (active.state !== 'aggregating') return proceed;
  const { average, weightSum, survivors } = outcome.result;
  if (!average) return failWith("secure aggregation: the survivors' weights sum to 0");
  let offset = 0;
  const candidate = active.base.tensors.map((t) => {
    const out = new Float32Array(t.data.length);
    for (let i = 0; i < out.length; i++) out[i] = (t.data[i] as number) + (average[offset + i] as number);
    offset += out.length;
    return out;
  });
  // Participants whose masked input was accepted but whose mask could not be removed are not in the sum.
  const inSum = new Set(survivors);
  active.accepted = active.accepted.filter((c) => inSum.has(c.institution));
  active.accumulator.add(candidate, weightSum);
  return aggregateAndEvaluate(ctx, active, survivors.length);
}
