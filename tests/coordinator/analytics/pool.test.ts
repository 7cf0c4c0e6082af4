/** Pooled statistics equal the same computation on the pooled rows wherever no cell is suppressed. */
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/index.js';
import { categoricalAnswer, crosstabAnswer, numericAnswer, type Table } from '../../../node-agent/analytics/index.js';
import { histogramQuantile, poolCategorical, poolCrosstab, poolNumeric } from '../../../coordinator/analytics/pool.js';

/** Three synthetic sites of different sizes and means; about 8% of ages missing (NA, empty, ?); three smoking categories. */
function sites(): Table[] {
  const rng = createPrng(7);
  const smoke = ['never', 'former', 'current'];
  return [300, 200, 500].map((n, s) => ({
    source: `site-${s}`,
    header: ['age', 'smoking', 'y'],
    rows: Array.from({ length: n }, () => {
      const u = rng.next();
      const age = u < 0.03 ? 'NA' : u < 0.06 ? '' : u < 0.08 ? '?' : (40 + s * 8 + rng.normal() * 12).toFixed(1);
      return [age, smoke[Math.floor(rng.next() * 3)] as string, rng.next() < 0.3 ? '1' : '0'];
    }),
  }));
}

const edges = [-1000, 30, 40, 50, 60, 1000];

describe('pooled numeric statistics', () => {
  for (const k of [1, 5]) {
    it(`equal count, missing, mean, std and histogram of the pooled rows (k = ${k}, no cell below k)`, () => {
      const tables = sites();
      const parts = tables.map((t) => ({ site: t.source, answer: numericAnswer(t, 'age', edges, k) }));
      const pooled = poolNumeric(parts, edges, [0.25, 0.5, 0.75]);

      const values = tables
        .flatMap((t) => t.rows.map((r) => r[0] as string))
        .filter((c) => c !== '' && Number.isFinite(Number(c)))
        .map(Number);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
      const counts = edges
        .slice(1)
        .map((hi, i) => values.filter((v) => v >= (edges[i] as number) && (i === edges.length - 2 ? v <= hi : v < hi)).length);
      expect(pooled.incomplete).toBeUndefined();
      expect(pooled.count).toBe(values.length);
      expect(pooled.missing).toBe(1000 - values.length);
      expect(pooled.mean).toBeCloseTo(mean, 10);
      expect(pooled.std).toBeCloseTo(std, 10);
      expect(pooled.histogram.counts).toEqual(counts);
      expect([pooled.histogram.below, pooled.histogram.above]).toEqual([0, 0]);
      // the true median lies in the bin the interpolated one is in: within errorBound of it
      const sorted = [...values].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] as number;
      const q = pooled.quantiles[1];
      expect(Math.abs((q?.value as number) - median)).toBeLessThanOrEqual(q?.errorBound as number);
    });
  }

  it('interpolates a quantile within its bin and gives no value beyond the edges', () => {
    expect(histogramQuantile([10, 20, 30], [0, 2, 2, 0], 0.25)).toEqual({ p: 0.25, value: 15, errorBound: 10 });
    expect(histogramQuantile([10, 20], [3, 1, 0], 0.5)).toEqual({ p: 0.5, value: null, errorBound: null });
  });
});

describe('pooled categories and crosstabs', () => {
  it('equal the counts of the pooled rows', () => {
    const tables = sites();
    const all = tables.flatMap((t) => t.rows);
    const cat = poolCategorical(tables.map((t) => ({ site: t.source, answer: categoricalAnswer(t, 'smoking', 5) })));
    const xt = poolCrosstab(tables.map((t) => ({ site: t.source, answer: crosstabAnswer(t, 'smoking', 'y', 5) })));

    for (const name of ['never', 'former', 'current']) {
      expect(cat.counts[name]).toBe(all.filter((r) => r[1] === name).length);
      for (const y of ['0', '1']) {
        const cell = xt.cells[xt.rowNames.indexOf(name)]?.[xt.colNames.indexOf(y)];
        expect(cell).toBe(all.filter((r) => r[1] === name && r[2] === y).length);
      }
    }
    expect(cat.incomplete).toBeUndefined();
    expect(xt.incomplete).toBeUndefined();
  });
});
