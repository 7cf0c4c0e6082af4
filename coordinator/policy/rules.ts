/** Policy rules as pure functions: each returns a decision with the rule's name, its measured value and its limit. */
import type { Arch, PrivacySettings } from '../../protocol/index.js';
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

const at = (stage: RuleDecision['stage']) => (rule: string, passed: boolean, value: RuleDecision['value'], limit: RuleDecision['limit'], message: string): RuleDecision => ({
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
  return [enrolment('dataResidency', ok, residency ?? null, allowed.join(','), ok ? `data resides in ${residency}` : `data residency ${residency ?? 'undeclared'} is not in ${allowed.join(', ')}`)];
}

/** When a round selects participants: enough eligible institutions? */
export function selectionRules(policy: Policy, eligible: number, round: number): RuleDecision[] {
  return [
    selection('minInstitutionsPerRound', eligible >= policy.minInstitutionsPerRound, eligible, policy.minInstitutionsPerRound, `${eligible} eligible institutions, at least ${policy.minInstitutionsPerRound} required`),
    selection('maxRounds', round <= policy.maxRounds, round, policy.maxRounds, `round ${round} of at most ${policy.maxRounds}`),
  ];
}

/** When an update arrives: enough samples behind it? */
export function updateRules(policy: Policy, samples: number): RuleDecision[] {
  return [
    update('minSamplesPerInstitution', samples >= policy.minSamplesPerInstitution, samples, policy.minSamplesPerInstitution, `${samples} samples, at least ${policy.minSamplesPerInstitution} required`),
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
    if (min === null) return publication('consentMinOtherInstitutions', false, others, null, `${institution} contributed without a consent on record (CONSENT_MISSING)`);
    const ok = others >= min;
    const message = `${institution}'s consent requires at least ${min} other institutions in the aggregate, ${others} contributed${ok ? '' : ' (CONSENT_TOO_FEW_INSTITUTIONS)'}`;
    return publication('consentMinOtherInstitutions', ok, others, min, message);
  });
}

export interface PublicationFacts {
  round: number;
  arch: Arch;
  contributors: { institution: string; samples: number }[];
  privacy: PrivacySettings;
  /** Each contributing site's validation metric of the candidate model, as it reported it. */
  siteMetrics: { institution: string; valAccuracy: number }[];
  /** The published model the candidate would replace: its version and the median of its evaluators' valAccuracy (absent: none reported). */
  published?: { version: number; medianValAccuracy?: number };
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
  out.push(publication('minInstitutionsPerRound', n >= policy.minInstitutionsPerRound, n, policy.minInstitutionsPerRound, `${n} institutions contributed, at least ${policy.minInstitutionsPerRound} required`));
  const fewest = n > 0 ? Math.min(...facts.contributors.map((c) => c.samples)) : 0;
  out.push(publication('minSamplesPerInstitution', n > 0 && fewest >= policy.minSamplesPerInstitution, fewest, policy.minSamplesPerInstitution, `smallest contribution ${fewest} samples, at least ${policy.minSamplesPerInstitution} required`));
  const secagg = facts.privacy.secureAggregation;
  out.push(publication('requireSecureAggregation', !policy.requireSecureAggregation || secagg, secagg, policy.requireSecureAggregation, policy.requireSecureAggregation ? `secure aggregation ${secagg ? 'on' : 'off'}, required` : 'secure aggregation not required'));
  if (policy.dp) {
    const eps = facts.privacy.dp?.epsilon ?? Number.POSITIVE_INFINITY;
    const delta = facts.privacy.dp?.delta ?? 1;
    const ok = eps <= policy.dp.maxEpsilon && delta <= policy.dp.maxDelta;
    out.push(publication('dpBudget', ok, Number.isFinite(eps) ? eps : 'no DP', policy.dp.maxEpsilon, `epsilon ${Number.isFinite(eps) ? eps : 'unbounded (no DP)'} and delta ${delta}, ceilings ${policy.dp.maxEpsilon} and ${policy.dp.maxDelta}`));
  }
  out.push(publication('allowedArchitectures', policy.allowedArchitectures.includes(facts.arch), facts.arch, policy.allowedArchitectures.join(','), `architecture ${facts.arch}, allowed ${policy.allowedArchitectures.join(', ')}`));
  if (facts.consents) out.push(...consentRules(facts.consents));
  out.push(publication('maxRounds', facts.round <= policy.maxRounds, facts.round, policy.maxRounds, `round ${facts.round} of at most ${policy.maxRounds}`));
  if (policy.fairness) {
    const values = facts.siteMetrics.map((m) => m.valAccuracy);
    if (values.length === 0) {
      out.push(publication('fairness', false, null, policy.fairness.maxGap, 'no site reported a validation metric for the candidate model'));
    } else {
      const gap = Math.max(...values) - Math.min(...values);
      const worst = facts.siteMetrics.reduce((a, b) => (b.valAccuracy < a.valAccuracy ? b : a));
      out.push(publication('fairness', gap <= policy.fairness.maxGap, round4(gap), policy.fairness.maxGap, `valAccuracy gap ${round4(gap)} between the best and the worst site (${worst.institution}: ${round4(worst.valAccuracy)}), at most ${policy.fairness.maxGap}`));
    }
  }
  if (policy.regression) out.push(regressionRule(policy.regression.maxDrop, facts));
  return out;
}

/**
 * The median of the sites' reports (the mean of the two middle ones for an even count); null when none reported.
 * @example medianAccuracy([{ institution: 'a', valAccuracy: 0.9 }, { institution: 'b', valAccuracy: 0.1 }, { institution: 'c', valAccuracy: 1 }]) // 0.9
 */
export function medianAccuracy(siteMetrics: readonly { valAccuracy: number }[]): number | null {
  if (siteMetrics.length === 0) return null;
  const sorted = siteMetrics.map((m) => m.valAccuracy).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The regression guard: the candidate's median report within `maxDrop` of the published model's. */
function regressionRule(maxDrop: number, facts: PublicationFacts): RuleDecision {
  const candidate = medianAccuracy(facts.siteMetrics);
  const reference = facts.published?.medianValAccuracy;
  if (reference === undefined) {
    const what = facts.published ? `no site reported a validation metric of the published model v${facts.published.version}` : 'no published model to compare with';
    return publication('regression', true, candidate === null ? null : round4(candidate), null, `${what}: nothing to regress from`);
  }
  const floor = round4(reference - maxDrop);
  if (candidate === null) return publication('regression', true, null, floor, 'no site reported a validation metric of the candidate');
  const ok = candidate >= reference - maxDrop - 1e-12;
  return publication(
    'regression',
    ok,
    round4(candidate),
    floor,
    `median valAccuracy ${round4(candidate)} over ${facts.siteMetrics.length} sites' reports, published model v${facts.published?.version} ${round4(reference)}: at most ${maxDrop} lower allowed`,
  );
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
