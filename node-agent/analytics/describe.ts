/** Phase 1 of a stats query: each column's kind and, for numbers, a range that no single row decides. */
import { isMissingToken, type StatsAnswerBody } from '../../protocol/index.js';
import { namedCategories, numericCell } from './site-counts.js';
import { columnCells, type Table } from './table.js';

type ColumnKind = NonNullable<StatsAnswerBody['columns']>[number];

/**
 * [lo, hi] rounded outward to one significant digit of their span (e.g. 23.4..87.9 -> 20..90).
 * @example roundOutward(23.4, 87.9) // [20, 90]
 */
export function roundOutward(lo: number, hi: number): [number, number] {
  const span = hi - lo || Math.abs(hi) || 1;
  const step = 10 ** Math.floor(Math.log10(span));
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

/**
 * Numeric when every present cell is a finite number (and one is present), categorical otherwise. A numeric column's
 * range runs from its k-th smallest to its k-th largest value, rounded outward (no range with fewer than k values): at
 * least k rows lie at or beyond each end, so no single row sets it.
 * @example describeColumn(table, 'age', 5) // { name: 'age', kind: 'numeric', range: [10, 100] }
 */
export function describeColumn(table: Table, name: string, k: number): ColumnKind {
  const cells = columnCells(table, name);
  if (!cells) return { name, kind: 'absent' };
  const present = cells.filter((c) => !isMissingToken(c));
  const values = present.map(numericCell);
  if (present.length === 0 || values.some((v) => v === null)) return { name, kind: 'categorical' };
  const sorted = (values as number[]).sort((a, b) => a - b);
  if (sorted.length < k) return { name, kind: 'numeric' };
  return { name, kind: 'numeric', range: roundOutward(sorted[k - 1] as number, sorted[sorted.length - k] as number) };
}

/** At most this many names per column in a describe answer (the wire's limit). */
const MAX_NAMES = 1000;

/**
 * Under secure aggregation: a categorical column, or one named in `names` (crosstab, label, survival group), with the
 * values this site holds in at least k rows (sorted; the first 1000).
 * @example withNames(table, { name: 'sex', kind: 'categorical' }, 5, []) // { name: 'sex', kind: 'categorical', categories: ['F', 'M'] }
 */
export function withNames(table: Table, c: ColumnKind, k: number, names: readonly string[]): ColumnKind {
  const cells = columnCells(table, c.name);
  if (!cells || (c.kind !== 'categorical' && !names.includes(c.name))) return c;
  return { ...c, categories: namedCategories(cells, k).names.slice(0, MAX_NAMES) };
}
