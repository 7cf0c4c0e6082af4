/** The policy gate before publication, and what publishing or withholding a round's candidate records. */
import { median, publicationRules, siteScores, type PublicationFacts, type RuleDecision } from '../policy/index.js';
import type { RoundMetrics } from '../store/index.js';
import { spentAfter } from '../privacy.js';
import { finishMetrics } from './metrics.js';
import { writeModelCard } from './model-card-writer.js';
import type { CurrentModel } from './model-registry.js';
import type { ActiveRound, RoundContext } from './round-context.js';

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
 * @example const verdict = judge(ctx, a); if (!verdict.published) withhold(ctx, a, verdict);
 */
export function judge(ctx: RoundContext, a: ActiveRound): Verdict {
  const { federation } = ctx.deps;
  const siteMetrics = [...a.siteMetrics].map(([institution, m]) => ({
    institution,
    valAccuracy: m.valAccuracy,
    valR2: m.valR2,
    valLoss: m.valLoss,
  }));
  const decisions = publicationRules(federation.policy, {
    round: a.round,
    arch: ctx.spec.arch,
    ...(ctx.spec.task ? { task: ctx.spec.task } : {}),
    contributors: a.accepted,
    privacy: federation.manifest.privacy,
    siteMetrics,
    published: publishedReference(ctx, a.baseVersion),
    consents: a.accepted.map(({ institution }) => ({ institution, minOtherInstitutions: ctx.consents.minOtherInstitutions(institution) })),
  });
  const published = decisions.every((d) => d.passed);
  const all = [...a.decisions, ...decisions];
  const { metric, values } = siteScores(ctx.spec.task, siteMetrics);
  const mid = median(values.map((v) => v.value));
  const medianField = MEDIAN_FIELD[metric.name];
  const metrics = withPrivacy(ctx, a, { ...finishMetrics(a.metrics), ...a.normsUsed, ...(mid !== null ? { [medianField]: mid } : {}) });
  ctx.audit('policy.decision', {
    round: a.round,
    policyHash: federation.policyHash,
    outcome: published ? 'publish' : 'withhold',
    decisions,
  });
  ctx.events.emit('round:decided', { round: a.round, decisions, published });
  return { decisions, published, all, metrics };
}

/**
 * Records the round as withheld by policy (state, reason, decisions, metrics, audit entry); returns the reason.
 * @example const reason = withhold(ctx, a, verdict)
 */
export function withhold(ctx: RoundContext, a: ActiveRound, verdict: Verdict): string {
  const candidate = a.candidate as CurrentModel;
  const reason = verdict.decisions
    .filter((d) => !d.passed)
    .map((d) => `${d.rule}: ${d.message}`)
    .join('; ');
  ctx.transition(a, 'withheld', () => {
    ctx.deps.store.updateRound(ctx.fed, a.round, {
      closedAt: Date.now(),
      reason: `withheld by policy: ${reason}`,
      decisions: verdict.all,
      metrics: verdict.metrics,
    });
    ctx.audit('round.withheld', { round: a.round, candidateDigest: candidate.digest, reason });
  });
  return reason;
}

/**
 * Publishes the candidate in one transaction: the next model version, the round's record, the audit entry and the
 * signed model card; throws (and nothing is recorded, and the current model stays the last stored one) when any fails.
 * @example const { version, digest } = publish(ctx, a, verdict)
 */
export function publish(
  ctx: RoundContext,
  a: ActiveRound,
  verdict: Verdict,
): { version: number; digest: string; metrics: RoundMetrics; fairnessGap: number | null } {
  const { federation, store } = ctx.deps;
  const candidate = a.candidate as CurrentModel;
  const { all, metrics } = verdict;
  const base = ctx.models.current as CurrentModel;
  const published = store.transaction(() => {
    const model = ctx.models.publish(ctx.spec, candidate.tensors, a.round, base.version);
    store.updateRound(ctx.fed, a.round, {
      state: 'published',
      resultVersion: model.version,
      closedAt: Date.now(),
      metrics,
      decisions: all,
    });
    ctx.audit('model.published', { round: a.round, version: model.version, digest: model.digest, parentVersion: base.version, metrics });
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
      round: a.round,
      specHash: store.getModel(ctx.fed, model.version)?.specHash ?? '',
      policy: { version: federation.policy.version, hash: federation.policyHash, decisions: all },
      siteMetrics: [...a.siteMetrics].map(([institution, { round: _round, ...m }]) => ({ institution, ...m })),
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
  return ctx.deps.store.listRounds(ctx.fed).filter((r) => r.state === 'published' || r.state === 'withheld').length;
}

/** The model a round's candidate would replace, with the median of what its evaluators reported (the regression guard's reference). */
function publishedReference(ctx: RoundContext, version: number): PublicationFacts['published'] | undefined {
  const made = ctx.deps.store.listRounds(ctx.fed).find((r) => r.state === 'published' && r.resultVersion === version);
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
function withPrivacy(ctx: RoundContext, a: ActiveRound, metrics: RoundMetrics): RoundMetrics {
  const { dp } = ctx.deps.rules;
  const clip = a.clipUsed !== undefined ? { clipNorm: a.clipUsed, ...(ctx.clip.adaptive ? { nextClipNorm: ctx.clip.current } : {}) } : {};
  return dp ? { ...metrics, epsilon: spentAfter(ctx.deps.rules, releasedRounds(ctx) + 1), delta: dp.delta, ...clip } : metrics;
}
