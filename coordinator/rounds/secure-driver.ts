/** Secure aggregation at the runner: opens a round's SecureRound, routes its messages and masked inputs, and turns its outcome into the candidate's sum. */
import { CohortError, toCohortError, type SecAggTerms } from '../../protocol/index.js';
import type { secagg } from '../../crypto/index.js';
import type { Accumulator } from '../strategies/index.js';
import { intakeMasked, type IntakeContext } from './update-intake.js';
import { SecureRound } from './secure-round.js';
import { secureTerms } from './secure-terms.js';
import type { CurrentModel } from './model-registry.js';
import { checkSamples, counted, refuse, storeAccepted } from './update-submission.js';
import { aggregateAndEvaluate } from './aggregation.js';
import type { ActiveRound, RoundContext } from './round-context.js';

/**
 * Starts the round's secure aggregation and returns the terms every participant's task carries.
 * @example const secagg = rules.secagg ? openSecureRound(ctx, a, participants) : undefined
 */
export function openSecureRound(ctx: RoundContext, a: ActiveRound, participants: string[]): SecAggTerms {
  const { terms, config } = secureTerms({
    federation: ctx.fed,
    round: a.round,
    rules: ctx.deps.rules,
    spec: ctx.spec,
    participants: participants.map((id) => ({
      id,
      signPublicKey: Buffer.from(ctx.deps.store.getInstitution(ctx.fed, id)?.signPublicKey ?? '', 'base64'),
    })),
    maxDeclared: Math.max(1, ...a.declared.values()),
  });
  a.secure = new SecureRound({
    round: a.round,
    terms,
    config,
    stepTimeoutMs: ctx.deps.rules.secagg?.stepTimeoutMs ?? 30_000,
    send: (institution, event, msg) => ctx.deps.outbox.sendSecAgg(institution, event, msg),
    audit: (kind, data, actor) => ctx.audit(kind, data, actor),
    onDropped: (institution, reason) => {
      if (ctx.active !== a || a.state !== 'training' || !a.pending.has(institution)) return;
      ctx.drop(a, institution, reason);
      ctx.maybeClose();
    },
    onOutcome: (outcome) => onSecureOutcome(ctx, a, outcome),
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
  const a = ctx.active;
  const round = (msg as { round?: unknown }).round;
  if (!a?.secure) throw new CohortError('ROUND_CLOSED', 'no secure-aggregation round is running');
  if (round !== a.round)
    throw new CohortError('WRONG_ROUND', `secure-aggregation message for round ${String(round)}, current round is ${a.round}`);
  if (!a.selected.has(institution)) throw new CohortError('NOT_SELECTED', `${institution} was not selected for round ${a.round}`);
  if (step === 'advertise') a.secure.advertise(institution, msg as Parameters<SecureRound['advertise']>[1]);
  else if (step === 'share-keys') a.secure.shareKeys(institution, msg as Parameters<SecureRound['shareKeys']>[1]);
  else if (step === 'consistency') a.secure.consistency(institution, msg as Parameters<SecureRound['consistency']>[1]);
  else a.secure.unmask(institution, msg as Parameters<SecureRound['unmask']>[1]);
}

/**
 * Under secure aggregation: checks a masked input's envelope and metadata and adds it to the masked sum.
 * @example const { digest } = submitMasked(ctx, a, 'site-a', 3, envelope, intakeFor(ctx, a, 'site-a'))
 */
export function submitMasked(
  ctx: RoundContext,
  a: ActiveRound,
  institution: string,
  round: number,
  envelope: Uint8Array,
  intake: IntakeContext,
): { digest: string } {
  let accepted;
  try {
    accepted = intakeMasked(envelope, intake);
    checkSamples(ctx, a, institution, accepted.meta.samples);
    (a.secure as SecureRound).masked(institution, accepted.frame);
  } catch (cause) {
    const err = toCohortError(cause);
    refuse(ctx, a, institution, err.code, err.message, envelope.length);
    throw err;
  }
  const { meta, digest } = accepted;
  try {
    storeAccepted(ctx, round, institution, meta, digest, envelope.length, { masked: true });
  } catch (cause) {
    // Already in the masked sum (the protocol adds it as it verifies it) but not recorded: the sum no longer matches the record.
    const err = toCohortError(cause);
    ctx.failRound(`${institution}'s masked input is in the sum but could not be recorded: ${err.message}`);
    throw err;
  }
  return counted(ctx, a, institution, meta, digest);
}

/** Secure aggregation ended: the average update joins the strategy (as one update of the total weight), or the round fails. */
function onSecureOutcome(ctx: RoundContext, a: ActiveRound, outcome: secagg.ServerOutcome): void {
  if (ctx.active !== a || (a.state !== 'aggregating' && a.state !== 'training')) return;
  if (!outcome.ok) {
    for (const b of outcome.blame)
      ctx.audit('secagg.blame', { round: a.round, reason: b.reason, evidence: b.evidence, message: b.message }, b.participant);
    return ctx.failRound(`secure aggregation failed (${outcome.failure.code} at ${outcome.failure.step}): ${outcome.failure.message}`);
  }
  const { average, weightSum, survivors } = outcome.result;
  if (!average) return ctx.failRound("secure aggregation: the survivors' weights sum to 0");
  const base = ctx.models.current as CurrentModel;
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
  aggregateAndEvaluate(ctx, a, survivors.length);
}
