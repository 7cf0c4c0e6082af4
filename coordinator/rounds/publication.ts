/** The policy gate before publication, and what publishing or withholding a round's candidate records. */
import { median, publicationRules, siteScores, type PublicationFacts, type RuleDecision } from '../policy/index.js';
import type { RoundMetrics } from '../store/index.js';
import { spentAfter } from '../privacy.js';
import { finishMetrics } from './metrics.js';
import { writeModelCard } from './model-card-writer.js';
import type { EvaluatingRound, RoundContext } from './round-context.js';

/** Where a round records the median of each headline metric (the regression guard's reference once published). */
const MEDIAN_FIELD = { valAccuracy: 'siteValAccuracyMedian', valR2: 'siteValR2Median', valLoss: 'siteValLossMedian' } as const;

/** What the publication rules decided about a round's candidate. */
export interface Verdict {
  /** The publication rules' decisions. */
  decisions: RuleDecision[];
  /** Every rule passed. */
  published: boolean;
  /** The round's selection decisions followed by its publication decisions: what the round record keeps. */
  all: RuleDecision[];
  /** The round's metrics, with the privacy spent when DP is on. */
  metrics: RoundMetrics;
}

/**
 * Runs every publication rule on the candidate, audits the decision and announces it (round:decided).
 * @example const verdict = judge(ctx, evaluating); if (!verdict.published) withheldReason(verdict);
 */
export function judge(ctx: RoundContext, evaluating: EvaluatingRound): Verdict {
  const { federation } = ctx.deps;
  const { round, accepted } = evaluating;
  const siteMetrics = [...evaluating.siteMetrics].map(([institution, m]) => ({
    institution,
    valAccuracy: m.valAccuracy,
    valR2: m.valR2,
    valLoss: m.valLoss,
  }));
  const decisions = publicationRules(federation.policy, {
    round,
    arch: ctx.spec.arch,
    ...(ctx.spec.task ? { task: ctx.spec.task } : {}),
    contributors: accepted,
    privacy: federation.manifest.privacy,
    siteMetrics,
    published: publishedReference(ctx, evaluating.base.version),
    consents: accepted.map(({ institution }) => ({ institution, minOtherInstitutions: ctx.consents.minOtherInstitutions(institution) })),
  });
  const published = decisions.every((d) => d.passed);
  const all = [...evaluating.decisions, ...decisions];
  const { metric, values } = siteScores(ctx.spec.task, siteMetrics);
  const mid = median(values.map((v) => v.value));
  const medianField = MEDIAN_FIELD[metric.name];
  const metrics = withPrivacy(ctx, evaluating, {
    ...finishMetrics(evaluating.metrics),
    ...evaluating.normsUsed,
    ...(mid !== null ? { [medianField]: mid } : {}),
  });
  ctx.audit('policy.decision', {
    round,
    policyHash: federation.policyHash,
    outcome: published ? 'publish' : 'withhold',
    decisions,
  });
  ctx.events.emit('round:decided', { round, decisions, published });
  return { decisions, published, all, metrics };
}

/**
 * Why the policy withheld a candidate: each failed rule with its message.
 * @example withheldReason(verdict) // 'minContributors: 1 of 2 required'
 */
export function withheldReason(verdict: Verdict): string {
  return verdict.decisions
    .filter((d) => !d.passed)
    .map((d) => `${d.rule}: ${d.message}`)
    .join('; ');
}

/**
 * What a round withheld by policy records beside its state (reason, decisions, metrics, audit entry); the runner
 * calls it inside the transition to `withheld`.
 * @example persist(evaluating, 'withheld', () => recordWithheld(ctx, evaluating, verdict, reason))
 */
export function recordWithheld(ctx: RoundContext, evaluating: EvaluatingRound, verdict: Verdict, reason: string): void {
  ctx.deps.store.updateRound(ctx.federationId, evaluating.round, {
    closedAt: Date.now(),
    reason: `withheld by policy: ${reason}`,
    decisions: verdict.all,
    metrics: verdict.metrics,
  });
  ctx.audit('round.withheld', { round: evaluating.round, candidateDigest: evaluating.candidate.digest, reason });
}

/**
 * Publishes the candidate in one transaction: the next model version, the round's record, the audit entry and the
 * signed model card; throws (and nothing is recorded, and the current model stays the last stored one) when any fails.
 * @example const { version, digest } = publish(ctx, evaluating, verdict)
 */
export function publish(
  ctx: RoundContext,
  evaluating: EvaluatingRound,
  verdict: Verdict,
): { version: number; digest: string; metrics: RoundMetrics; fairnessGap: number | null } {
  const { federation, store } = ctx.deps;
  const { round, candidate, base } = evaluating;
  const { all, metrics } = verdict;
  const published = store.transaction(() => {
    const model = ctx.models.publish(ctx.spec, candidate.tensors, round, base.version);
    store.updateRound(ctx.federationId, round, {
      state: 'published',
      resultVersion: model.version,
      closedAt: Date.now(),
      metrics,
      decisions: all,
    });
    ctx.audit('model.published', { round, version: model.version, digest: model.digest, parentVersion: base.version, metrics });
    const card = writeModelCard({
      store,
      dataDir: ctx.deps.dataDir,
      identity: ctx.deps.identity,
      manifest: federation.manifest,
      manifestHash: federation.manifestHash,
      spec: ctx.spec,
      model,
      modelPath: model.path,
      parentVersion: base.version,
      round,
      specHash: store.getModel(ctx.federationId, model.version)?.specHash ?? '',
      policy: { version: federation.policy.version, hash: federation.policyHash, decisions: all },
      siteMetrics: [...evaluating.siteMetrics].map(([institution, { round: _round, ...m }]) => ({ institution, ...m })),
      epsilonSpent: metrics.epsilon ?? null,
    });
    return { model, version: model.version, digest: model.digest, metrics, fairnessGap: card.fairnessGap };
  });
  ctx.models.adopt(published.model);
  return { version: published.version, digest: published.digest, metrics, fairnessGap: published.fairnessGap };
}

/**
 * Rounds whose aggregate reached the sites (published or withheld): each is a step of the DP mechanism.
 * @example const epsilon = spentAfter(rules, releasedRounds(ctx) + 1)
 */
export function releasedRounds(ctx: RoundContext): number {
  return ctx.deps.store.listRounds(ctx.federationId).filter((r) => r.state === 'published' || r.state === 'withheld').length;
}

/** The model a round's candidate would replace, with the median of what its evaluators reported (the regression guard's reference). */
function publishedReference(ctx: RoundContext, version: number): PublicationFacts['published'] | undefined {
  const made = ctx.deps.store.listRounds(ctx.federationId).find((r) => r.state === 'published' && r.resultVersion === version);
  if (!made) return undefined; // version 0: the initial weights, which nobody evaluated
  const m = made.metrics;
  return {
    version,
    ...(m?.siteValAccuracyMedian !== undefined ? { medianValAccuracy: m.siteValAccuracyMedian } : {}),
    ...(m?.siteValR2Median !== undefined ? { medianValR2: m.siteValR2Median } : {}),
    ...(m?.siteValLossMedian !== undefined ? { medianValLoss: m.siteValLossMedian } : {}),
  };
}

/** The round's metrics with the (epsilon, delta) spent so far, counting this round, when DP is on. */
function withPrivacy(ctx: RoundContext, evaluating: EvaluatingRound, metrics: RoundMetrics): RoundMetrics {
  const { dp } = ctx.deps.rules;
  const clip = { clipNorm: evaluating.clipUsed, ...(ctx.clip.adaptive ? { nextClipNorm: ctx.clip.current } : {}) };
  return dp ? { ...metrics, epsilon: spentAfter(ctx.deps.rules, releasedRounds(ctx) + 1), delta: dp.delta, ...clip } : metrics;
}
