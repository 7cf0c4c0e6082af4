/** Closing a round's training: the aggregate (the strategy's result plus central DP noise) becomes the candidate, which the contributors evaluate. */
import { parameterCount, toCohortError, type EvaluateTask, type NamedTensor } from '../../protocol/index.js';
import { consentRules } from '../policy/index.js';
import { noiseAverage } from '../privacy.js';
import { taskTerms } from './task-terms.js';
import {
  failWith,
  proceed,
  type AggregatingRound,
  type EvaluatingRound,
  type RoundContext,
  type StepOutcome,
  type TrainingRound,
} from './round-context.js';

/**
 * Aggregates, then asks the contributors to evaluate the candidate on their own validation rows; the round fails when
 * too few updates were accepted.
 * @example if (training.pending.size === 0) settle(closeTraining(ctx, training))
 */
export function closeTraining(ctx: RoundContext, training: TrainingRound): StepOutcome {
  const { round, secure } = training;
  const accepted = secure ? training.accepted.length : training.accumulator.count;
  const min = ctx.deps.rules.minParticipants;
  if (accepted < min) return failWith(`only ${accepted} of ${min} required updates were accepted`);
  const { task: _task, pending: _pending, state: _state, timer: _timer, ...selected } = training;
  const aggregating = ctx.enter(training, { ...selected, state: 'aggregating' }, () =>
    ctx.audit('round.aggregating', { round, updates: accepted, secureAggregation: secure !== undefined }),
  );
  if (secure) {
    // The masked sum is useless until the survivors reveal their shares: unmasking continues in onSecureOutcome (secure-driver.ts).
    secure.closeMasked();
    return proceed;
  }
  return aggregateAndEvaluate(ctx, aggregating, accepted);
}

/**
 * The strategy's result (plus central DP noise) becomes the candidate, which the contributors evaluate.
 * @example return aggregateAndEvaluate(ctx, aggregating, survivors.length)
 */
export function aggregateAndEvaluate(ctx: RoundContext, aggregating: AggregatingRound, accepted: number): StepOutcome {
  const unmet = unmetConsents(ctx, aggregating);
  if (unmet) return unmet;
  const { round, secure } = aggregating;
  let made: Pick<EvaluatingRound, 'candidate' | 'clipUsed' | 'normsUsed'>;
  try {
    const result = aggregating.accumulator.result();
    if (!result) return failWith('the strategy produced no model');
    // Under secure aggregation the sites added the noise themselves (distributed DP): none is added here.
    if (!secure)
      noiseAverage(result, ctx.deps.rules, accepted, { clipNorm: ctx.clip.current, noiseMultiplier: ctx.clip.updateNoiseMultiplier ?? 0 });
    const clipUsed = ctx.clip.current;
    const adapted = ctx.clip.step();
    if (adapted) ctx.audit('dp.clip.adapted', { round, ...adapted });
    let normsUsed: EvaluatingRound['normsUsed'];
    if (!secure) {
      const updateNormBound = ctx.bound.current(parameterCount(ctx.spec), ctx.deps.rules.dp ? clipUsed : undefined).bound;
      const updateNormMedian = ctx.bound.close();
      normsUsed = { updateNormBound, ...(updateNormMedian !== undefined ? { updateNormMedian } : {}) };
    }
    const { base } = aggregating;
    const tensors: NamedTensor[] = base.tensors.map((t, i) => ({ name: t.name, shape: t.shape, data: result[i] as Float32Array }));
    made = { candidate: ctx.models.candidate(ctx.spec, tensors, base.version + 1, round), clipUsed, normsUsed };
  } catch (cause) {
    return failWith(`aggregation failed: ${toCohortError(cause).message}`);
  }
  const { candidate } = made;
  const { state: _state, timer: _timer, ...selected } = aggregating;
  const evaluators = selected.accepted
    .map((c) => c.institution)
    .filter((i) => ctx.online.has(i) && ctx.consents.covers(i, 'evaluation').ok);
  const next: EvaluatingRound = { ...selected, ...made, state: 'evaluating', evaluating: new Set(), siteMetrics: new Map() };
  const evaluating = ctx.enter(aggregating, next, () =>
    ctx.audit('round.evaluating', { round, candidateDigest: candidate.digest, evaluators }),
  );
  const deadline = Date.now() + ctx.deps.rules.evaluationTimeoutMs;
  const task: EvaluateTask = {
    ...taskTerms(ctx.deps.federation, round, deadline, evaluating.accepted.length, candidate),
    use: 'evaluation',
  };
  for (const institution of evaluators) if (ctx.deps.outbox.sendEvaluation(institution, task)) evaluating.evaluating.add(institution);
  evaluating.timer = setTimeout(() => ctx.onDeadline(), ctx.deps.rules.evaluationTimeoutMs);
  ctx.maybeDecide();
  return proceed;
}

/**
 * Selection checked each consent's fewest other institutions against the selected sites; dropouts and refusals may
 * leave fewer in the aggregate. Checked again against the contributors actually in it, before the candidate reaches
 * anyone (evaluators included): when a consent is unmet the round fails and nothing is released.
 */
function unmetConsents(ctx: RoundContext, aggregating: AggregatingRound): StepOutcome | undefined {
  const { round, accepted } = aggregating;
  const decisions = consentRules(
    accepted.map(({ institution }) => ({ institution, minOtherInstitutions: ctx.consents.minOtherInstitutions(institution) })),
  );
  const unmet = decisions.filter((d) => !d.passed);
  if (unmet.length === 0) return undefined;
  const { policyHash } = ctx.deps.federation;
  ctx.deps.store.transaction(() => {
    ctx.deps.store.updateRound(ctx.federationId, round, { decisions: [...aggregating.decisions, ...decisions] });
    ctx.audit('policy.decision', { round, policyHash, stage: 'aggregation', outcome: 'withhold', decisions });
  });
  // The reason reaches the contributors' consoles: it counts the consents, the decisions (audit, round record) name them.
  const others = accepted.length - 1;
  return failWith(
    `withheld before aggregation by consent (CONSENT_TOO_FEW_INSTITUTIONS): ${unmet.length} of ${accepted.length} contributors' consents require more than the ${others} other institution${others === 1 ? '' : 's'} in the aggregate`,
  );
}
