/** Closing a round's training: the aggregate (the strategy's result plus central DP noise) becomes the candidate, which the contributors evaluate. */
import { parameterCount, toCohortError, type EvaluateTask, type NamedTensor } from '../../protocol/index.js';
import type { Accumulator } from '../strategies/index.js';
import { consentRules } from '../policy/index.js';
import { noiseAverage } from '../privacy.js';
import type { CurrentModel } from './model-registry.js';
import { taskTerms } from './task-terms.js';
import type { ActiveRound, RoundContext } from './round-context.js';

/**
 * Aggregates, then asks the contributors to evaluate the candidate on their own validation rows; the round fails when
 * too few updates were accepted.
 * @example if (a.state === 'training' && a.pending.size === 0) closeTraining(ctx, a)
 */
export function closeTraining(ctx: RoundContext, a: ActiveRound): void {
  ctx.clearTimers();
  const accepted = a.secure ? a.accepted.length : (a.accumulator?.count ?? 0);
  const min = ctx.deps.rules.minParticipants;
  if (accepted < min) return ctx.failRound(`only ${accepted} of ${min} required updates were accepted`);
  ctx.transition(a, 'aggregating', () =>
    ctx.audit('round.aggregating', { round: a.round, updates: accepted, secureAggregation: a.secure !== undefined }),
  );
  if (a.secure) {
    // The masked sum is useless until the survivors reveal their shares: unmasking continues in onSecureOutcome (secure-driver.ts).
    return a.secure.closeMasked();
  }
  aggregateAndEvaluate(ctx, a, accepted);
}

/**
 * The strategy's result (plus central DP noise) becomes the candidate, which the contributors evaluate.
 * @example aggregateAndEvaluate(ctx, a, survivors.length)
 */
export function aggregateAndEvaluate(ctx: RoundContext, a: ActiveRound, accepted: number): void {
  ctx.clearTimers();
  if (!consentsHold(ctx, a)) return;
  try {
    const result = (a.accumulator as Accumulator).result();
    if (!result) return ctx.failRound('the strategy produced no model');
    // Under secure aggregation the sites added the noise themselves (distributed DP): none is added here.
    if (!a.secure)
      noiseAverage(result, ctx.deps.rules, accepted, { clipNorm: ctx.clip.current, noiseMultiplier: ctx.clip.updateNoiseMultiplier ?? 0 });
    a.clipUsed = ctx.clip.current;
    const adapted = ctx.clip.step();
    if (adapted) ctx.audit('dp.clip.adapted', { round: a.round, ...adapted });
    if (!a.secure) {
      const updateNormBound = ctx.bound.current(parameterCount(ctx.spec), ctx.deps.rules.dp ? (a.clipUsed as number) : undefined).bound;
      const updateNormMedian = ctx.bound.close();
      a.normsUsed = { updateNormBound, ...(updateNormMedian !== undefined ? { updateNormMedian } : {}) };
    }
    const base = ctx.models.current as CurrentModel;
    const tensors: NamedTensor[] = base.tensors.map((t, i) => ({ name: t.name, shape: t.shape, data: result[i] as Float32Array }));
    a.candidate = ctx.models.candidate(ctx.spec, tensors, base.version + 1, a.round);
  } catch (cause) {
    return ctx.failRound(`aggregation failed: ${toCohortError(cause).message}`);
  }
  const candidate = a.candidate;
  const evaluators = a.accepted.map((c) => c.institution).filter((i) => ctx.online.has(i) && ctx.consents.covers(i, 'evaluation').ok);
  ctx.transition(a, 'evaluating', () => ctx.audit('round.evaluating', { round: a.round, candidateDigest: candidate.digest, evaluators }));
  const deadline = Date.now() + ctx.deps.rules.evaluationTimeoutMs;
  const task: EvaluateTask = { ...taskTerms(ctx.deps.federation, a.round, deadline, a.accepted.length, candidate), use: 'evaluation' };
  for (const institution of evaluators) if (ctx.deps.outbox.sendEvaluation(institution, task)) a.evaluating.add(institution);
  a.timer = setTimeout(() => ctx.onDeadline(), ctx.deps.rules.evaluationTimeoutMs);
  ctx.maybeDecide();
}

/**
 * Selection checked each consent's fewest other institutions against the selected sites; dropouts and refusals may
 * leave fewer in the aggregate. Checked again against the contributors actually in it, before the candidate reaches
 * anyone (evaluators included): when a consent is unmet the round fails and nothing is released.
 */
function consentsHold(ctx: RoundContext, a: ActiveRound): boolean {
  const decisions = consentRules(
    a.accepted.map(({ institution }) => ({ institution, minOtherInstitutions: ctx.consents.minOtherInstitutions(institution) })),
  );
  const unmet = decisions.filter((d) => !d.passed);
  if (unmet.length === 0) return true;
  const { policyHash } = ctx.deps.federation;
  ctx.deps.store.transaction(() => {
    ctx.deps.store.updateRound(ctx.fed, a.round, { decisions: [...a.decisions, ...decisions] });
    ctx.audit('policy.decision', { round: a.round, policyHash, stage: 'aggregation', outcome: 'withhold', decisions });
  });
  // The reason reaches the contributors' consoles: it counts the consents, the decisions (audit, round record) name them.
  const others = a.accepted.length - 1;
  ctx.failRound(
    `withheld before aggregation by consent (CONSENT_TOO_FEW_INSTITUTIONS): ${unmet.length} of ${a.accepted.length} contributors' consents require more than the ${others} other institution${others === 1 ? '' : 's'} in the aggregate`,
  );
  return false;
}
