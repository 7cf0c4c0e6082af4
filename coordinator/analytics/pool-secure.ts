/** Secure aggregation of counts at the coordinator: the masked vectors summed, read back through the shared layout, suppressed as a pool. */
import { protectCells, protectCount, secureLayout, type CountAsk, type NumericAnswer, type SurvivalAnswer } from '../../protocol/index.js';
import { fromBase64, secagg } from '../../crypto/index.js';

/** The pooled counts as one answer of a pseudo-site, suppressed at k (the largest of the sites' minimum cell sizes). */
export interface PooledAnswer {
  rows: ReturnType<typeof protectCount>;
  numeric: NumericAnswer[];
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
  const out: PooledAnswer = { rows: protectCount(at(layout.rows), k), numeric };
  const s = layout.survival;
  if (s) {
    const atRisk = Array.from({ length: s.steps }, (_, j) => protectCount(at(s.atRisk + j), k));
    const events = atRisk.map((c, j) => (c.suppressed ? { n: 0, suppressed: true as const } : { n: at(s.events + j) }));
    out.survival = { groups: [{ group: '(all)', atRisk, events }], excluded: protectCount(at(s.excluded), k) };
  }
  return out;
}
