import { describe, expect, it } from 'vitest';
import {
  consentRules,
  defaultPolicy,
  enrolmentRules,
  parsePolicy,
  policyHash,
  publicationRules,
  selectionRules,
  updateRules,
  type PublicationFacts,
  type RuleDecision,
} from '../../../coordinator/policy/index.js';
import { dpTerms } from './fixtures.js';

const facts = (overrides: Partial<PublicationFacts> = {}): PublicationFacts => ({
  round: 3,
  arch: 'mlp',
  contributors: [
    { institution: 'a', samples: 500 },
    { institution: 'b', samples: 400 },
    { institution: 'c', samples: 300 },
  ],
  privacy: { secureAggregation: false },
  siteMetrics: [
    { institution: 'a', valAccuracy: 0.93 },
    { institution: 'b', valAccuracy: 0.9 },
    { institution: 'c', valAccuracy: 0.88 },
  ],
  ...overrides,
});

const rule = (decisions: RuleDecision[], name: string): RuleDecision => {
  const d = decisions.find((x) => x.rule === name);
  if (!d) throw new Error(`no decision for ${name}: ${decisions.map((x) => x.rule).join(', ')}`);
  return d;
};

describe('policy files', () => {
  it('fill defaults, refuse unknown keys and bad values, and hash stably', () => {
    const p = parsePolicy({ format: 'cohort-policy/v1', version: 2 });
    expect(p.minInstitutionsPerRound).toBe(2);
    expect(() => parsePolicy({ format: 'cohort-policy/v1', version: 1, minInstitutions: 3 })).toThrow(/minInstitutions|Unrecognized/);
    expect(() => parsePolicy({ format: 'cohort-policy/v1', version: 0 })).toThrow(/version/);
    expect(policyHash(p)).toBe(policyHash(parsePolicy({ version: 2, format: 'cohort-policy/v1' })));
    expect(policyHash(p)).not.toBe(policyHash({ ...p, version: 3 }));
  });
});

describe('publication rules', () => {
  it('all pass for a compliant round', () => {
    const decisions = publicationRules(
      defaultPolicy({ minInstitutionsPerRound: 3, minSamplesPerInstitution: 100, fairness: { metric: 'valAccuracy', maxGap: 0.1 } }),
      facts(),
    );
    expect(decisions.filter((d) => !d.passed)).toEqual([]);
  });

  it.each([
    ['minInstitutionsPerRound', { minInstitutionsPerRound: 4 }, {}, 3, 4],
    ['minSamplesPerInstitution', { minSamplesPerInstitution: 350 }, {}, 300, 350],
    ['requireSecureAggregation', { requireSecureAggregation: true }, {}, false, true],
    ['dpBudget', { dp: { maxEpsilon: 4, maxDelta: 1e-5 } }, { privacy: { secureAggregation: false, dp: dpTerms(8) } }, 8, 4],
    ['dpBudget', { dp: { maxEpsilon: 4, maxDelta: 1e-5 } }, {}, 'no DP', 4],
    ['allowedArchitectures', { allowedArchitectures: ['logreg' as const] }, {}, 'mlp', 'logreg'],
    ['maxRounds', { maxRounds: 2 }, {}, 3, 2],
    ['fairness', { fairness: { metric: 'valAccuracy' as const, maxGap: 0.02 } }, {}, 0.05, 0.02],
  ] as const)('%s fails with its value and limit', (name, policyOverrides, factOverrides, value, limit) => {
    const d = rule(publicationRules(defaultPolicy(policyOverrides as never), facts(factOverrides as Partial<PublicationFacts>)), name);
    expect(d).toMatchObject({ passed: false, value, limit: Array.isArray(limit) ? limit.join(',') : limit });
    expect(d.message.length).toBeGreaterThan(10);
  });

  it('passes the DP ceiling when the study spends less', () => {
    const d = rule(
      publicationRules(
        defaultPolicy({ dp: { maxEpsilon: 8, maxDelta: 1e-5 } }),
        facts({ privacy: { secureAggregation: true, dp: dpTerms(4, 1e-6) } }),
      ),
      'dpBudget',
    );
    expect(d.passed).toBe(true);
  });

  it('fails fairness when no site reported a metric', () => {
    expect(
      rule(publicationRules(defaultPolicy({ fairness: { metric: 'valAccuracy', maxGap: 0.2 } }), facts({ siteMetrics: [] })), 'fairness'),
    ).toMatchObject({ passed: false, value: null });
  });
});

describe('enrolment, selection and update rules', () => {
  it('residency: allowed, refused, undeclared, and unconstrained', () => {
    const policy = defaultPolicy({ dataResidency: { allowed: ['EU', 'CH'] } });
    expect(enrolmentRules(policy, 'EU')[0]).toMatchObject({ rule: 'dataResidency', passed: true });
    expect(enrolmentRules(policy, 'US')[0]).toMatchObject({ passed: false, value: 'US', limit: 'EU,CH' });
    expect(enrolmentRules(policy, undefined)[0]?.passed).toBe(false);
    expect(enrolmentRules(defaultPolicy(), 'US')).toEqual([]);
  });

  it('selection needs enough eligible institutions and a round within the maximum', () => {
    const policy = defaultPolicy({ minInstitutionsPerRound: 3, maxRounds: 5 });
    expect(selectionRules(policy, 3, 5).every((d) => d.passed)).toBe(true);
    expect(rule(selectionRules(policy, 2, 1), 'minInstitutionsPerRound')).toMatchObject({ passed: false, value: 2, limit: 3 });
    expect(rule(selectionRules(policy, 3, 6), 'maxRounds')).toMatchObject({ passed: false, value: 6, limit: 5 });
  });

  it('an update needs the minimum number of samples', () => {
    const policy = defaultPolicy({ minSamplesPerInstitution: 50 });
    expect(updateRules(policy, 50)[0]?.passed).toBe(true);
    expect(updateRules(policy, 49)[0]).toMatchObject({ passed: false, value: 49, limit: 50 });
  });

  it("each contributor's consent is checked against the other institutions actually in the aggregate, naming the institution", () => {
    const decisions = consentRules([
      { institution: 'a', minOtherInstitutions: 2 },
      { institution: 'b', minOtherInstitutions: 1 },
    ]);
    expect(decisions.map((d) => [d.rule, d.passed, d.value, d.limit])).toEqual([
      ['consentMinOtherInstitutions', false, 1, 2],
      ['consentMinOtherInstitutions', true, 1, 1],
    ]);
    expect(decisions[0]?.message).toBe(
      "a's consent requires at least 2 other institutions in the aggregate, 1 contributed (CONSENT_TOO_FEW_INSTITUTIONS)",
    );
    expect(consentRules([{ institution: 'x', minOtherInstitutions: null }])[0]).toMatchObject({
      passed: false,
      message: expect.stringMatching(/CONSENT_MISSING/),
    });
  });

  it("publication includes the consent decisions when the contributors' limits are given", () => {
    const decisions = publicationRules(
      defaultPolicy(),
      facts({
        consents: [
          { institution: 'a', minOtherInstitutions: 3 },
          { institution: 'b', minOtherInstitutions: 0 },
          { institution: 'c', minOtherInstitutions: 2 },
        ],
      }),
    );
    expect(decisions.filter((d) => d.rule === 'consentMinOtherInstitutions').map((d) => d.passed)).toEqual([false, true, true]);
  });
});

describe('the regression guard', () => {
  const published = { version: 4, medianValAccuracy: 0.8 };
  const reports = (...values: number[]) => values.map((valAccuracy, i) => ({ institution: `s${i}`, valAccuracy }));

  it("is on by default and passes a candidate within 0.1 of the published model's median report", () => {
    const d = rule(publicationRules(defaultPolicy(), facts({ published, siteMetrics: reports(0.75, 0.72, 0.9) })), 'regression');
    expect(d).toMatchObject({ passed: true, value: 0.75, limit: 0.7 });
  });

  it('withholds a poisoned candidate that one lying site reports as perfect, where a mean of the reports would pass it', () => {
    const lied = reports(0.62, 0.6, 0.63, 1.0);
    const mean = lied.reduce((a, m) => a + m.valAccuracy, 0) / lied.length;

    const d = rule(publicationRules(defaultPolicy(), facts({ published, siteMetrics: lied })), 'regression');

    expect(mean).toBeGreaterThanOrEqual(0.7); // a mean-based gate would publish
    expect(d).toMatchObject({ passed: false, value: 0.625, limit: 0.7 });
    expect(d.message).toMatch(/median valAccuracy 0.625 over 4 sites' reports, published model v4 0.8/);
  });

  it('has nothing to compare with before a published model was evaluated, and can be turned off or loosened', () => {
    expect(rule(publicationRules(defaultPolicy(), facts({ siteMetrics: reports(0.1) })), 'regression')).toMatchObject({
      passed: true,
      limit: null,
    });
    expect(
      rule(publicationRules(defaultPolicy(), facts({ published: { version: 2 }, siteMetrics: reports(0.1) })), 'regression').passed,
    ).toBe(true);
    expect(
      publicationRules(defaultPolicy({ regression: false }), facts({ published, siteMetrics: reports(0.1) })).find(
        (d) => d.rule === 'regression',
      ),
    ).toBeUndefined();
    expect(
      rule(
        publicationRules(
          defaultPolicy({ regression: { metric: 'valAccuracy', maxDrop: 0.5 } }),
          facts({ published, siteMetrics: reports(0.4) }),
        ),
        'regression',
      ).passed,
    ).toBe(true);
  });
});
