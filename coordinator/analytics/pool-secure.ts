/** Secure aggregation of counts at the coordinator: the masked vectors summed, read back through the shared layout, suppressed as a pool. */
import {
  protectCells,
  protectCount,
  protectTables,
  secureLayout,
  secureNames,
  type CategoricalAnswer,
  type CountAsk,
  type CountCell,
  type CrosstabAnswer,
  type NumericAnswer,
  type SurvivalAnswer,
} from '../../protocol/index.js';
import { fromBase64, secagg } from '../../crypto/index.js';

/** The pooled counts as one answer of a pseudo-site, suppressed at k (the largest of the sites' minimum cell sizes). */
export interface PooledAnswer {
  rows: ReturnType<typeof protectCount>;
  numeric: NumericAnswer[];
  categorical: CategoricalAnswer[];
  crosstabs: CrosstabAnswer[];
  survival?: SurvivalAnswer;
}

/**
 * Sums the sites' masked vectors (base64 u32): the masks cancel only when every peer's vector is in the sum.
 * @example const pooled = unmaskSum([a.masked, b.masked, c.masked], ask)
 */
export function unmaskSum(masked: readonly string[], ask: CountAsk): Uint32Array {
  const layout = secureLayout(ask);
  const vectors = masked.map((m) => secagg.wordsFromBytes(fromBase64(m)));
  for (const v of vectors)
    if (v.length !== layout.length) throw new RangeError(`a masked vector has ${v.length} words, the layout ${layout.length}`);
  return secagg.sumMasked(vectors);
}

/**
 * The pooled vector as answers, every released count suppressed at k with the same rules a site applies to its own
 * (present + missing and the histogram as lines, a survival step with fewer than k at risk withheld whole).
 * @example pooledAnswer(sum, ask, 5).numeric[0].histogram
 */
export function pooledAnswer(sum: Uint32Array, ask: CountAsk, k: number): PooledAnswer {
  const layout = secureLayout(ask);
  const at = (i: number) => sum[i] as number;
  const numeric = layout.numeric.map((n): NumericAnswer => {
    const [present, missing] = protectCells([at(n.present), at(n.missing)], [[0, 1]], k) as [
      NumericAnswer['present'],
      NumericAnswer['missing'],
    ];
    const cells = Array.from({ length: n.cells }, (_, j) => at(n.histogram + j));
    const histogram = present.suppressed
      ? cells.map(() => ({ n: 0, suppressed: true as const }))
      : protectCells(cells, [cells.map((_, j) => j)], k);
    return { column: n.column, present, missing, histogram };
  });
  // Suppressed together, as a site does: a crosstab's row and column sums are the pooled category counts.
  const tables = protectTables(
    {
      categorical: layout.categorical.map((c) => ({
        column: c.column,
        names: secureNames(ask, c.column),
        counts: Array.from({ length: c.names.length + 2 }, (_, j) => at(c.at + j)),
      })),
      crosstabs: layout.crosstabs.map((x) => ({
        ...x,
        counts: Array.from({ length: x.rowNames.length * x.colNames.length }, (_, j) => at(x.at + j)),
      })),
    },
    k,
  );
  const categorical = layout.categorical.map((c, i): CategoricalAnswer => {
    const out = tables.categorical[i] as CountCell[];
    return {
      column: c.column,
      categories: c.names.map((name, j) => ({ name, count: out[j] as CountCell })),
      other: out[c.names.length] as CountCell,
      missing: out[c.names.length + 1] as CountCell,
    };
  });
  const crosstabs = layout.crosstabs.map((x, i): CrosstabAnswer => {
    const out = tables.crosstabs[i] as CountCell[];
    const width = x.colNames.length;
    const cells = x.rowNames.map((_, r) => out.slice(r * width, (r + 1) * width));
    return { rows: x.rows, cols: x.cols, rowNames: x.rowNames, colNames: x.colNames, cells };
  });
  const out: PooledAnswer = { rows: protectCount(at(layout.rows), k), numeric, categorical, crosstabs };
  const s = layout.survival;
  if (s) out.survival = pooledSurvival(s, at, k);
  return out;
}

/**
 * Survival from the pooled vector: a step with fewer than k at risk is withheld whole. The group sizes (at risk at the
 * first step; with no group, the one curve's) and `excluded` add up to the released row count, so they are suppressed
 * as one line, as a site does: a withheld group, or with no group a withheld `excluded`, withholds that curve (else
 * rows minus the first at-risk count would give `excluded` back).
 */
function pooledSurvival(s: NonNullable<ReturnType<typeof secureLayout>['survival']>, at: (i: number) => number, k: number): SurvivalAnswer {
  const steps = (start: number) => Array.from({ length: s.steps }, (_, j) => at(start + j));
  const withheld = () => steps(0).map(() => ({ n: 0, suppressed: true as const }));
  const sizes = s.groups.map((g) => at(g.atRisk));
  const line = protectCells([...sizes, at(s.excluded)], [[...sizes.keys(), sizes.length]], k);
  const groups = s.groups.map((g, i) => {
    if (line[i]?.suppressed) return { group: g.group, atRisk: withheld(), events: withheld() };
    const atRisk = steps(g.atRisk).map((n) => protectCount(n, k));
    const events = steps(g.events).map((n, j) => (atRisk[j]?.suppressed ? { n: 0, suppressed: true as const } : { n }));
    return { group: g.group, atRisk, events };
  });
  return { groups, excluded: line[s.groups.length] as CountCell };
}
