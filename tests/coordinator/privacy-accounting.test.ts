import { describe, expect, it } from 'vitest';
import { dp } from '../../crypto/index.js';
import { plannedBudget, spentAfter } from '../../coordinator/privacy.js';
import { RoundRulesSchema } from '../../coordinator/config.js';
import { selectParticipants } from '../../coordinator/rounds/selection.js';
import { plannedEpsilon } from '../../node-agent/mods/dp-terms.js';
import { ledgerSpent } from '../../node-agent/privacy-ledger.js';

const z = 1.1;
const delta = 1e-5;
const rules = RoundRulesSchema.parse({
  rounds: 10,
  minParticipants: 25,
  fraction: 0.2,
  train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
  dp: { noiseMultiplier: z, clipNorm: 1, delta },
});
const online = Array.from({ length: 50 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);

describe('the DP accountant (issue 13: 50 institutions, fraction 0.2, minParticipants 25)', () => {
  it('reports an epsilon no smaller than what the selection actually ran', () => {
    const perRound = Array.from({ length: rules.rounds }, (_, r) => selectParticipants(online, { ...rules, round: r + 1 }));
    const realRate = Math.max(...perRound.map((p) => p.length)) / online.length;
    const atRealRate = dp.epsilonFor({ q: realRate, noiseMultiplier: z, steps: rules.rounds, delta }).epsilon;
    const atFraction = dp.epsilonFor({ q: rules.fraction, noiseMultiplier: z, steps: rules.rounds, delta }).epsilon;

    const reported = spentAfter(rules, rules.rounds);

    // The bug: selection took 25 of 50 a round (q = 0.5), and accounting at q = fraction reported about half.
    expect(realRate).toBe(0.5);
    expect(atFraction / atRealRate).toBeGreaterThan(0.45);
    expect(atFraction / atRealRate).toBeLessThan(0.55);
    // Fixed: the accountant uses q = 1 (the coordinator selects, and knows whom), an upper bound on any selection.
    expect(reported).toBeGreaterThanOrEqual(atRealRate);
    expect(reported).toBeGreaterThanOrEqual(dp.epsilonFor({ q: 1, noiseMultiplier: z, steps: rules.rounds, delta }).epsilon);
    expect(reported).toBeLessThan(dp.epsilonFor({ q: 1, noiseMultiplier: z, steps: rules.rounds, delta }).epsilon + 1e-5);
  });

  it('signs the mechanism into the manifest terms, and the site recomputes the same budget from them', () => {
    const terms = plannedBudget(rules)!;

    const atSite = plannedEpsilon(terms, rules.rounds);
    const ledgerOfAllRounds = ledgerSpent(
      Array.from({ length: rules.rounds }, () => ({ noiseMultiplier: terms.noiseMultiplier, samplingRate: terms.samplingRate })),
      terms.delta,
    );

    expect(terms).toMatchObject({ noiseMultiplier: z, clipNorm: 1, delta, sampling: 'coordinator', samplingRate: 1 });
    expect(terms.epsilon).toBeGreaterThanOrEqual(atSite);
    expect(terms.epsilon).toBeGreaterThanOrEqual(ledgerOfAllRounds);
    expect(ledgerOfAllRounds).toBeCloseTo(atSite, 9);
  });
});
