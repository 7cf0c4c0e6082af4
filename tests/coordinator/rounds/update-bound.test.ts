import { describe, expect, it } from 'vitest';
import { RoundRulesSchema } from '../../../coordinator/config.js';
import { UpdateBound, normBound, roundMedian } from '../../../coordinator/rounds/update-bound.js';

const rules = (extra: Record<string, unknown> = {}) =>
  RoundRulesSchema.parse({ rounds: 3, minParticipants: 2, train: { localEpochs: 1, batchSize: 10, learningRate: 0.1 }, ...extra });

describe('the update bound', () => {
  it('starts at a root-mean-square change of 1 per weight, then follows 10 times the last median', () => {
    const bound = new UpdateBound(rules());
    expect(bound.current(10_000, undefined)).toEqual({ bound: 100, source: 'first-round' });
    [2, 3, 1e30, 2.5].forEach((n) => bound.observe(n));

    expect(bound.close()).toBe(2.75);
    expect(bound.current(10_000, undefined)).toEqual({ bound: 27.5, source: 'median' });
  });

  it('lets no single site set the median: fewer than 3 updates record none, and one outlier of 3 moves it to an honest value', () => {
    expect(roundMedian([1, 1e30])).toBeUndefined();
    expect(roundMedian([1, 2, 1e30])).toBe(2);
    const bound = new UpdateBound(rules(), 4);
    bound.observe(1e30);
    expect(bound.close()).toBeUndefined();
    expect(bound.current(100, undefined).bound).toBe(40);
  });

  it("takes the study's absolute bound, and the DP clip norm where it is stricter", () => {
    expect(normBound(rules({ maxUpdateNorm: 5 }), { parameters: 100, lastMedian: 1 })).toEqual({ bound: 5, source: 'rules' });
    const dp = rules({ maxUpdateNorm: 5, dp: { noiseMultiplier: 1, clipNorm: 0.5 } });
    expect(normBound(dp, { parameters: 100, dpClip: 0.5 })).toEqual({ bound: 0.5 * (1 + 1e-4), source: 'dp-clip' });
    expect(normBound({ ...dp, maxUpdateNorm: 0.1 }, { parameters: 100, dpClip: 0.5 }).source).toBe('rules');
    expect(normBound(rules({ updateNormFactor: 3 }), { parameters: 100, lastMedian: 2 }).bound).toBe(6);
  });
});
