/** Kaplan-Meier, Greenwood's log-log band and the log-rank test against a hand-computed example; the chi-square tail. */
import { describe, expect, it } from 'vitest';
import { kaplanMeier, logRank } from '../../../coordinator/analytics/kaplan-meier.js';
import { chiSquareUpperTail } from '../../../coordinator/analytics/chi-square.js';
import { niceEdges } from '../../../coordinator/analytics/edges.js';
import { gridCounts } from '../../../node-agent/analytics/index.js';

// Group A: times 1 (event), 2 (censored), 3 (event), 4 (event). Group B: 2 (event), 3 (censored), 5 (event), 6 (censored).
const A = [
  { time: 1, event: 1 },
  { time: 2, event: 0 },
  { time: 3, event: 1 },
  { time: 4, event: 1 },
] as const;
const B = [
  { time: 2, event: 1 },
  { time: 3, event: 0 },
  { time: 5, event: 1 },
  { time: 6, event: 0 },
] as const;
const grid = [1, 2, 3, 4, 5, 6];

describe('Kaplan-Meier on a grid', () => {
  it('counts at risk (time > previous grid point) and events per step as written by hand', () => {
    expect(gridCounts([...A], grid)).toEqual({ atRisk: [4, 3, 2, 1, 0, 0], events: [1, 0, 1, 1, 0, 0] });
    expect(gridCounts([...B], grid)).toEqual({ atRisk: [4, 4, 3, 2, 2, 1], events: [0, 1, 0, 0, 1, 0] });
  });

  it('matches the hand computation of S(t) and the Greenwood log-log band', () => {
    const km = kaplanMeier(gridCounts([...A], grid));
    // S(1) = 1 - 1/4 = 0.75; S(2) = 0.75 (no event); S(3) = 0.75 * (1 - 1/2) = 0.375; S(4) = 0.375 * (1 - 1/1) = 0
    expect(km.survival).toEqual([0.75, 0.75, 0.375, 0, 0, 0]);
    // At t = 3: Greenwood g = 1/(4*3) + 1/(2*1) = 0.583333; se of log(-log S) = sqrt(g) / |ln 0.375| = 0.763763 / 0.980829 = 0.778691;
    // lower = 0.375^exp(1.959964 * 0.778691) = 0.375^4.600686 = 0.010971; upper = 0.375^exp(-1.526206) = 0.375^0.217359 = 0.808001
    expect(km.lower[2]).toBeCloseTo(0.010971, 5);
    expect(km.upper[2]).toBeCloseTo(0.808001, 5);
    // where S is 0 the band is 0
    expect([km.lower[3], km.upper[3]]).toEqual([0, 0]);
  });

  it('matches the hand computation of the log-rank statistic', () => {
    const test = logRank([gridCounts([...A], grid), gridCounts([...B], grid)]);
    // Steps with an event (n_A, n, d, event in): t1 (4, 8, 1, A), t2 (3, 7, 1, B), t3 (2, 5, 1, A), t4 (1, 3, 1, A), t5 (0, 2, 1, B).
    // E_A = 4/8 + 3/7 + 2/5 + 1/3 + 0 = 1.661905; O_A = 3.
    // V = 1*(7/7)*(4/8)(4/8) + 1*(6/6)*(3/7)(4/7) + 1*(4/4)*(2/5)(3/5) + 1*(2/2)*(1/3)(2/3) + 0 = 0.25 + 0.244898 + 0.24 + 0.222222 = 0.957120
    // chi-square = (3 - 1.661905)^2 / 0.957120 = 1.870715, df = 1, p = erfc(sqrt(1.870715 / 2)) = 0.171393
    expect(test?.observed[0]).toBe(3);
    expect(test?.expected[0]).toBeCloseTo(1.661905, 6);
    expect(test?.chiSquare).toBeCloseTo(1.870715, 5);
    expect(test?.df).toBe(1);
    expect(test?.pValue).toBeCloseTo(0.171393, 5);
  });

  it('gives df = groups - 1 and a small p-value for clearly different groups', () => {
    const early = { atRisk: [50, 10, 2], events: [40, 8, 2] };
    const late = { atRisk: [50, 48, 45], events: [2, 3, 5] };
    const mid = { atRisk: [50, 30, 15], events: [20, 15, 5] };
    const test = logRank([early, late, mid]);
    expect(test?.df).toBe(2);
    expect(test?.pValue).toBeLessThan(1e-6);
  });
});

describe('chiSquareUpperTail', () => {
  it('gives the textbook critical values', () => {
    expect(chiSquareUpperTail(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareUpperTail(5.991464547107979, 2)).toBeCloseTo(0.05, 10);
    expect(chiSquareUpperTail(23.209251158954356, 10)).toBeCloseTo(0.01, 10);
    expect(chiSquareUpperTail(0, 3)).toBe(1);
  });
});

describe('niceEdges', () => {
  it('covers the range with round steps', () => {
    expect(niceEdges(17, 93, 8)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(niceEdges(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceEdges(5, 5, 10)).toEqual([5, 5.5]);
  });
});
