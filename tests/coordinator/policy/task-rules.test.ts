/** The fairness rule and the regression guard read each task's headline metric, in its direction. */
import { describe, expect, it } from 'vitest';
import {
  defaultPolicy,
  publicationRules,
  siteScores,
  type PublicationFacts,
  type RuleDecision,
} from '../../../coordinator/policy/index.js';
import { buildModelCard, type CardFacts } from '../../../coordinator/models/card.js';

const regressionFacts = (r2: number[], published?: PublicationFacts['published']): PublicationFacts => ({
  round: 2,
  arch: 'logreg',
  task: 'regression',
  contributors: r2.map((_, i) => ({ institution: `s${i}`, samples: 100 })),
  privacy: { secureAggregation: false },
  // Sites report no accuracy for regression; their loss has the target's units, their R2 does not.
  siteMetrics: r2.map((v, i) => ({ institution: `s${i}`, valLoss: 100 * (1 - v), valR2: v })),
  ...(published ? { published } : {}),
});

const rule = (decisions: RuleDecision[], name: string): RuleDecision => decisions.find((d) => d.rule === name) as RuleDecision;

describe('rules for a regression task', () => {
  it('reads R2 (higher is better) and never an accuracy the sites did not report', () => {
    const { metric, values } = siteScores('regression', regressionFacts([0.8, 0.7]).siteMetrics);

    expect(metric).toEqual({ name: 'valR2', higherIsBetter: true });
    expect(values.map((v) => v.value)).toEqual([0.8, 0.7]);
    expect(siteScores(undefined, [{ institution: 'a', valAccuracy: 0.9, valR2: 0.1 }]).values).toEqual([{ institution: 'a', value: 0.9 }]);
  });

  it('withholds a candidate whose median R2 is more than maxDrop below the published model, keeps one within it', () => {
    const policy = defaultPolicy({ minInstitutionsPerRound: 1 });

    const worse = rule(publicationRules(policy, regressionFacts([0.6, 0.65, 0.7], { version: 1, medianValR2: 0.8 })), 'regression');
    const close = rule(publicationRules(policy, regressionFacts([0.72, 0.75, 0.9], { version: 1, medianValR2: 0.8 })), 'regression');

    // median 0.65 < 0.8 - 0.1; median 0.75 >= 0.7
    expect(worse).toMatchObject({ passed: false, value: 0.65, limit: 0.7 });
    expect(worse.message).toMatch(/^median valR2 0.65 over 3 sites' reports, published model v1 0.8: at most 0.1 lower allowed$/);
    expect(close).toMatchObject({ passed: true, value: 0.75 });
  });

  it('measures the fairness gap between the best and the worst R2', () => {
    const policy = defaultPolicy({ minInstitutionsPerRound: 1, fairness: { metric: 'valAccuracy', maxGap: 0.2 } });

    const fair = rule(publicationRules(policy, regressionFacts([0.9, 0.75])), 'fairness');
    const unfair = rule(publicationRules(policy, regressionFacts([0.9, 0.5])), 'fairness');

    expect(fair).toMatchObject({ passed: true, value: 0.15 });
    expect(unfair).toMatchObject({ passed: false, value: 0.4 });
    expect(unfair.message).toMatch(/valR2 gap 0.4 between the best and the worst site \(s1: 0.5\)/);
  });
});

describe('model card for a task', () => {
  it("states the task and the sites' task scores, the fairness gap in the headline metric", () => {
    const facts = {
      manifest: {
        federation: 'f',
        title: 't',
        purpose: 'p',
        dataCategories: ['x'],
        strategy: 'fedavg',
        privacy: { secureAggregation: false },
        coordinator: { id: 'c', signPublicKey: 'k' },
      },
      manifestHash: 'h',
      version: 2,
      parentVersion: 1,
      round: 2,
      model: { arch: 'logreg', parameters: 4, digest: 'd', specHash: 's', signature: 'g' },
      lineage: { steps: [], institutions: [] },
      policy: { version: 1, hash: 'p', decisions: [] },
      siteMetrics: [
        { institution: 'b', valAccuracy: 0.8, valLoss: 0.4, valAuc: 0.9, valSamples: 10 },
        { institution: 'a', valAccuracy: 0.7, valLoss: 0.5, valAuc: 0.85, valSamples: 12 },
      ],
      epsilonSpent: null,
      task: 'binary',
    } as unknown as CardFacts;

    const card = buildModelCard(facts);

    expect(card.task).toBe('binary');
    expect(card.siteMetrics.map((m) => m.valAuc)).toEqual([0.85, 0.9]);
    expect(card.fairnessGap).toBeCloseTo(0.1, 12);
  });
});
