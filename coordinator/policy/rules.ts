/** Policy rules as pure functions: each returns a decision with the rule's name, its measured value and its limit. */
import { headlineMetric, type Arch, type HeadlineMetric, type PrivacySettings, type Task } from '../../protocol/index.js';
import type { Policy } from './policy.js';

export interface RuleDecision {
  /** Where the rule was applied: at enrolment, at participant selection, on an update, or before publication. */
  stage: 'enrolment' | 'selection' | 'update' | 'publication';
  rule: string;
  passed: boolean;
  value: string | number | boolean | null;
  limit: string | number | boolean | null;
  message: string;
}

const at =
  (stage: RuleDecision['stage']) =>
  (rule: string, passed: boolean, value: RuleDecision['value'], limit: RuleDecision['limit'], message: string): RuleDecision => ({
    stage,
    rule,
    passed,
    value,
    limit,
    message,
  });

/** At enrolment (when an institution presents its consent): is its data where the policy allows? */
const enrolment = at('enrolment');
const selection = at('selection');
const update = at('update');
const publication = at('publication');

export function enrolmentRules(policy: Policy, residency: string | undefined): RuleDecision[] {
  if (!policy.dataResidency) return [];
  const allowed = policy.dataResidency.allowed;
  const ok = residency !== undefined && (allowed.includes(residency) || allowed.includes('*'));
  return [
    enrolment(
      'dataResidency',
      ok,
      residency ?? null,
      allowed.join(','),
      ok ? `data resides in ${residency}` : `data residency ${residency ?? 'undeclared'} is not in ${allowed.join(', ')}`,
    ),
  ];
}

/** When a round selects participants: enough eligible institutions? */
export function selectionRules(policy: Policy, eligible: number, round: number): RuleDecision[] {
  return [
    selection(
      'minInstitutionsPerRound',
      eligible >= policy.minInstitutionsPerRound,
      eligible,
      policy.minInstitutionsPerRound,
      `${eligible} eligible institutions, at least ${policy.minInstitutionsPerRound} required`,
    ),
    selection('maxRounds', round <= policy.maxRounds, round, policy.maxRounds, `round ${round} of at most ${policy.maxRounds}`),
  ];
}

/** When an update arrives: enough samples behind it? */
export function updateRules(policy: Policy, samples: number): RuleDecision[] {
  return [
    update(
      'minSamplesPerInstitution',
      samples >= policy.minSamplesPerInstitution,
      samples,
      policy.minSamplesPerInstitution,
      `${samples} samples, at least ${policy.minSamplesPerInstitution} required`,
    ),
  ];
}

/** A contributor and the fewest other institutions its consent accepts in an aggregate (null: it holds no consent). */
export interface ContributorConsent {
  institution: string;
  minOtherInstitutions: number | null;
}

/**
 * Before an aggregate leaves the coordinator: does each contributor's consent accept the number of other institutions
 * whose updates are actually in it? One decision per contributor; a failed one names the institution and
 * CONSENT_TOO_FEW_INSTITUTIONS.
 * @example consentRules([{ institution: 'a', minOtherInstitutions: 2 }, { institution: 'b', minOtherInstitutions: 1 }]) // a fails: 1 other
 */
export function consentRules(contributors: ContributorConsent[]): RuleDecision[] {
  const others = contributors.length - 1;
  return contributors.map(({ institution, minOtherInstitutions: min }) => {
    if (min === null)
      return publication(
        'consentMinOtherInstitutions',
        false,
        others,
        null,
        `${institution} contributed without a consent on record (CONSENT_MISSING)`,
      );
    const ok = others >= min;
    const message = `${institution}'s consent requires at least ${min} other institutions in the aggregate, ${others} contributed${ok ? '' : ' (CONSENT_TOO_FEW_INSTITUTIONS)'}`;
    return publication('consentMinOtherInstitutions', ok, others, min, message);
  });
}

/** What a site reported for a candidate, as the rules read it. */
export interface SiteMetric {
  institution: string;
  valAccuracy?: number;
  valR2?: number;
  valLoss?: number;
}

/**
 * The sites' headline metric for the task (see headlineMetric): each site that reported it, with its value.
 * @example siteScores('regression', [{ institution: 'a', valR2: 0.7 }]) // { metric: { name: 'valR2', higherIsBetter: true }, values: [{ institution: 'a', value: 0.7 }] }
 */
export function siteScores(
  task: Task | undefined,
  siteMetrics: readonly SiteMetric[],
): { metric: HeadlineMetric; values: { institution: string; value: number }[] } {
  const metric = headlineMetric({ task });
  const values = siteMetrics.flatMap((m) =>
    m[metric.name] === undefined ? [] : [{ institution: m.institution, value: m[metric.name] as number }],
  );
  return { metric, values };
}

export interface PublicationFacts {
  round: number;
  arch: Arch;
  contributors: { institution: string; samples: number }[];
  privacy: PrivacySettings;
  /** The federation's task (absent: classification): which reported metric the fairness and regression rules read. */
  task?: Task;
  /** Each contributing site's validation metrics of the candidate model, as it reported them (accuracy absent for regression, R2 present). */
  siteMetrics: SiteMetric[];
  /**
   * The published model the candidate would replace: its version and the median of its evaluators' headline metric
   * (valAccuracy, or valR2 for regression; absent: none reported).
   */
  published?: { version: number; medianValAccuracy?: number; medianValR2?: number; medianValLoss?: number };
  /** Each contributor's consent limit on the other institutions in the aggregate (checked when given). */
  consents?: ContributorConsent[];
}

/**
 * Every rule, before a model is published; the model is withheld unless all pass.
 * @example const decisions = publicationRules(policy, facts); const publish = decisions.every((d) => d.passed)
 */
export function publicationRules(policy: Policy, facts: PublicationFacts): RuleDecision[] {
  const out: RuleDecision[] = [];
  const n = facts.contributors.length;
  out.push(
    publication(
      'minInstitutionsPerRound',
      n >= policy.minInstitutionsPerRound,
      n,
      policy.minInstitutionsPerRound,
      `${n} institutions contributed, at least ${policy.minInstitutionsPerRound} required`,
    ),
  );
  const fewest = n > 0 ? Math.min(...facts.contributors.map((c) => c.samples)) : 0;
  out.push(
    publication(
      'minSamplesPerInstitution',
      n > 0 && fewest >= policy.minSamplesPerInstitution,
      fewest,
      policy.minSamplesPerInstitution,
      `smallest contribution ${fewest} samples, at least ${policy.minSamplesPerInstitution} required`,
    ),
  );
  const secagg = facts.privacy.secureAggregation;
  out.push(
    publication(
      'requireSecureAggregation',
      !policy.requireSecureAggregation || secagg,
      secagg,
      policy.requireSecureAggregation,
      policy.requireSecureAggregation ? `secure aggregation ${secagg ? 'on' : 'off'}, required` : 'secure aggregation not required',
    ),
  );
  if (policy.dp) {
    const eps = facts.privacy.dp?.epsilon ?? Number.POSITIVE_INFINITY;
    const delta = facts.privacy.dp?.delta ?? 1;
    const ok = eps <= policy.dp.maxEpsilon && delta <= policy.dp.maxDelta;
    out.push(
      publication(
        'dpBudget',
        ok,
        Number.isFinite(eps) ? eps : 'no DP',
        policy.dp.maxEpsilon,
        `epsilon ${Number.isFinite(eps) ? eps : 'unbounded (no DP)'} and delta ${delta}, ceilings ${policy.dp.maxEpsilon} and ${policy.dp.maxDelta}`,
      ),
    );
  }
  out.push(
    publication(
      'allowedArchitectures',
      policy.allowedArchitectures.includes(facts.arch),
      facts.arch,
      policy.allowedArchitectures.join(','),
      `architecture ${facts.arch}, allowed ${policy.allowedArchitectures.join(', ')}`,
    ),
  );
  if (facts.consents) out.push(...consentRules(facts.consents));
  out.push(
    publication(
      'maxRounds',
      facts.round <= policy.maxRounds,
      facts.round,
      policy.maxRounds,
      `round ${facts.round} of at most ${policy.maxRounds}`,
    ),
  );
  if (policy.fairness) out.push(fairnessRule(policy.fairness.maxGap, facts));
  if (policy.regression) out.push(regressionRule(policy.regression.maxDrop, facts));
  return out;
}

/**
 * The median of numbers (the mean of the two middle ones for an even count); null when there are none.
 * @example median([0.9, 0.1, 1]) // 0.9
 */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The median of the sites' valAccuracy reports; null when none reported one.
 * @example medianAccuracy([{ institution: 'a', valAccuracy: 0.9 }, { institution: 'b', valAccuracy: 0.1 }, { institution: 'c', valAccuracy: 1 }]) // 0.9
 */
export function medianAccuracy(siteMetrics: readonly { valAccuracy?: number }[]): number | null {
  return median(siteMetrics.flatMap((m) => (m.valAccuracy === undefined ? [] : [m.valAccuracy])));
}

/**
 * The fairness rule: the gap between the best and the worst site's headline metric at most `maxGap`. Higher is better
 * (accuracy, R2): the absolute gap. Lower is better (a loss): the relative gap (worst − best) / worst, in [0, 1].
 */
function fairnessRule(maxGap: number, facts: PublicationFacts): RuleDecision {
  const { metric, values } = siteScores(facts.task, facts.siteMetrics);
  if (values.length === 0)
    return publication('fairness', false, null, maxGap, 'no site reported a validation metric for the candidate model');
  const ranked = [...values].sort((a, b) => (metric.higherIsBetter ? b.value - a.value : a.value - b.value));
  const best = ranked[0] as (typeof values)[number];
  const worst = ranked[ranked.length - 1] as (typeof values)[number];
  const gap = metric.higherIsBetter ? best.value - worst.value : worst.value > 0 ? (worst.value - best.value) / worst.value : 0;
  const what = metric.higherIsBetter ? `${metric.name} gap` : `relative ${metric.name} gap (worst - best) / worst`;
  return publication(
    'fairness',
    gap <= maxGap,
    round4(gap),
    maxGap,
    `${what} ${round4(gap)} between the best and the worst site (${worst.institution}: ${round4(worst.value)}), at most ${maxGap}`,
  );
}

/**
 * The regression guard: the candidate's median headline metric within `maxDrop` of the published model's. Higher is
 * better (accuracy, R2): at most `maxDrop` lower. Lower is better (a loss): at most `maxDrop` (a fraction) higher,
 * i.e. candidate <= reference · (1 + maxDrop).
 */
function regressionRule(maxDrop: number, facts: PublicationFacts): RuleDecision {
  const { metric, values } = siteScores(facts.task, facts.siteMetrics);
  const candidate = median(values.map((v) => v.value));
  const references = {
    valAccuracy: facts.published?.medianValAccuracy,
    valR2: facts.published?.medianValR2,
    valLoss: facts.published?.medianValLoss,
  };
  const reference = references[metric.name];
  if (reference === undefined) {
    const what = facts.published
      ? `no site reported a validation metric of the published model v${facts.published.version}`
      : 'no published model to compare with';
    return publication('regression', true, candidate === null ? null : round4(candidate), null, `${what}: nothing to regress from`);
  }
  const bound = metric.higherIsBetter ? reference - maxDrop : reference * (1 + maxDrop);
  if (candidate === null)
    return publication('regression', true, null, round4(bound), 'no site reported a validation metric of the candidate');
  const ok = metric.higherIsBetter ? candidate >= bound - 1e-12 : candidate <= bound + 1e-12;
  const allowed = metric.higherIsBetter ? `at most ${maxDrop} lower allowed` : `at most ${maxDrop * 100}% higher allowed (lower is better)`;
  return publication(
    'regression',
    ok,
    round4(candidate),
    round4(bound),
    `median ${metric.name} ${round4(candidate)} over ${values.length} sites' reports, published model v${facts.published?.version} ${round4(reference)}: ${allowed}`,
  );
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
