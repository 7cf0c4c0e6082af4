/** Policy rules as pure functions: each returns a decision with the rule's name, its measured value and its limit. */
import type { Arch, PrivacySettings } from '../../protocol/index.js';
import type { Policy } from './policy.js';

export interface RuleDecision {
  rule: string;
  passed: boolean;
  value: string | number | boolean | null;
  limit: string | number | boolean | null;
  message: string;
}

const decide = (rule: string, passed: boolean, value: RuleDecision['value'], limit: RuleDecision['limit'], message: string): RuleDecision => ({
  rule,
  passed,
  value,
  limit,
  message,
});

/** At enrolment (when an institution presents its consent): is its data where the policy allows? */
export function enrolmentRules(policy: Policy, residency: string | undefined): RuleDecision[] {
  if (!policy.dataResidency) return [];
  const allowed = policy.dataResidency.allowed;
  const ok = residency !== undefined && (allowed.includes(residency) || allowed.includes('*'));
  return [decide('dataResidency', ok, residency ?? null, allowed.join(','), ok ? `data resides in ${residency}` : `data residency ${residency ?? 'undeclared'} is not in ${allowed.join(', ')}`)];
}

/** When a round selects participants: enough eligible institutions? */
export function selectionRules(policy: Policy, eligible: number, round: number): RuleDecision[] {
  return [
    decide('minInstitutionsPerRound', eligible >= policy.minInstitutionsPerRound, eligible, policy.minInstitutionsPerRound, `${eligible} eligible institutions, at least ${policy.minInstitutionsPerRound} required`),
    decide('maxRounds', round <= policy.maxRounds, round, policy.maxRounds, `round ${round} of at most ${policy.maxRounds}`),
  ];
}

/** When an update arrives: enough samples behind it? */
export function updateRules(policy: Policy, samples: number): RuleDecision[] {
  return [
    decide('minSamplesPerInstitution', samples >= policy.minSamplesPerInstitution, samples, policy.minSamplesPerInstitution, `${samples} samples, at least ${policy.minSamplesPerInstitution} required`),
  ];
}

export interface PublicationFacts {
  round: number;
  arch: Arch;
  contributors: { institution: string; samples: number }[];
  privacy: PrivacySettings;
  /** Each contributing site's validation metric of the candidate model, as it reported it. */
  siteMetrics: { institution: string; valAccuracy: number }[];
}

/**
 * Every rule, before a model is published; the model is withheld unless all pass.
 * @example const decisions = publicationRules(policy, facts); const publish = decisions.every((d) => d.passed)
 */
export function publicationRules(policy: Policy, facts: PublicationFacts): RuleDecision[] {
  const out: RuleDecision[] = [];
  const n = facts.contributors.length;
  out.push(decide('minInstitutionsPerRound', n >= policy.minInstitutionsPerRound, n, policy.minInstitutionsPerRound, `${n} institutions contributed, at least ${policy.minInstitutionsPerRound} required`));
  const fewest = n > 0 ? Math.min(...facts.contributors.map((c) => c.samples)) : 0;
  out.push(decide('minSamplesPerInstitution', n > 0 && fewest >= policy.minSamplesPerInstitution, fewest, policy.minSamplesPerInstitution, `smallest contribution ${fewest} samples, at least ${policy.minSamplesPerInstitution} required`));
  const secagg = facts.privacy.secureAggregation;
  out.push(decide('requireSecureAggregation', !policy.requireSecureAggregation || secagg, secagg, policy.requireSecureAggregation, policy.requireSecureAggregation ? `secure aggregation ${secagg ? 'on' : 'off'}, required` : 'secure aggregation not required'));
  if (policy.dp) {
    const eps = facts.privacy.dp?.epsilon ?? Number.POSITIVE_INFINITY;
    const delta = facts.privacy.dp?.delta ?? 1;
    const ok = eps <= policy.dp.maxEpsilon && delta <= policy.dp.maxDelta;
    out.push(decide('dpBudget', ok, Number.isFinite(eps) ? eps : 'no DP', policy.dp.maxEpsilon, `epsilon ${Number.isFinite(eps) ? eps : 'unbounded (no DP)'} and delta ${delta}, ceilings ${policy.dp.maxEpsilon} and ${policy.dp.maxDelta}`));
  }
  out.push(decide('allowedArchitectures', policy.allowedArchitectures.includes(facts.arch), facts.arch, policy.allowedArchitectures.join(','), `architecture ${facts.arch}, allowed ${policy.allowedArchitectures.join(', ')}`));
  out.push(decide('maxRounds', facts.round <= policy.maxRounds, facts.round, policy.maxRounds, `round ${facts.round} of at most ${policy.maxRounds}`));
  if (policy.fairness) {
    const values = facts.siteMetrics.map((m) => m.valAccuracy);
    if (values.length === 0) {
      out.push(decide('fairness', false, null, policy.fairness.maxGap, 'no site reported a validation metric for the candidate model'));
    } else {
      const gap = Math.max(...values) - Math.min(...values);
      const worst = facts.siteMetrics.reduce((a, b) => (b.valAccuracy < a.valAccuracy ? b : a));
      out.push(decide('fairness', gap <= policy.fairness.maxGap, round4(gap), policy.fairness.maxGap, `valAccuracy gap ${round4(gap)} between the best and the worst site (${worst.institution}: ${round4(worst.valAccuracy)}), at most ${policy.fairness.maxGap}`));
    }
  }
  return out;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
