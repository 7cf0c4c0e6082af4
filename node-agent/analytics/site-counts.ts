/** What one site computes for a count query: per-column moments and histograms, category counts and crosstabs, suppressed at k. */
import {
  MISSING_CATEGORY,
  OTHER_CATEGORY,
  isMissingToken,
  type CategoricalAnswer,
  type CountCell,
  type CrosstabAnswer,
  type NumericAnswer,
} from '../../protocol/index.js';
import { allSuppressed, protectCells, protectCount, protectTables } from './disclosure.js';
import { NO_NOISE, type CountNoise } from './noise.js';
import { columnCells, type Table } from './table.js';

/** A cell as a number, or null when missing or not a finite number. */
export function numericCell(cell: string | undefined): number | null {
  if (isMissingToken(cell)) return null;
  const v = Number((cell as string).trim());
  return Number.isFinite(v) ? v : null;
}

/** Index of the histogram cell holding v: 0 below edges[0], i in 1..m for [e_{i-1}, e_i) (the last bin closed), m+1 above. */
export function histogramCell(v: number, edges: readonly number[]): number {
  const m = edges.length - 1;
  if (v < (edges[0] as number)) return 0;
  if (v > (edges[m] as number)) return m + 1;
  let lo = 0;
  let hi = m; // edges[lo] <= v, find the last edge <= v
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) <= v) lo = mid;
    else hi = mid;
  }
  return Math.min(lo, m - 1) + 1;
}

function columnOf(table: Table, column: string): string[] {
  const cells = columnCells(table, column);
  if (!cells) throw new Error(`${table.source}: no column "${column}"`);
  return cells;
}

/**
 * Count, missing, mean and M2 (sum of squared deviations) and the histogram of one numeric column; a non-numeric
 * cell counts as missing. The mean and M2 are withheld unless at least k values back them, and always under noise
 * (noise first, then suppression of the noisy counts).
 * @example numericAnswer(table, 'age', [0, 50, 100], 5)
 */
export function numericAnswer(
  table: Table,
  column: string,
  edges: readonly number[],
  k: number,
  noise: CountNoise = NO_NOISE,
): NumericAnswer {
  const values = columnOf(table, column)
    .map(numericCell)
    .filter((v): v is number => v !== null);
  const [present, missing] = protectCells(noise.add([values.length, table.rows.length - values.length]), [[0, 1]], k) as [
    NumericAnswer['present'],
    NumericAnswer['missing'],
  ];
  const bins = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) bins[histogramCell(v, edges)] = (bins[histogramCell(v, edges)] as number) + 1;
  if (present.suppressed) return { column, present, missing, histogram: allSuppressed(bins.length) };
  const histogram = protectCells(noise.add(bins), [bins.map((_, i) => i)], k);
  if (!noise.exact) return { column, present, missing, histogram };
  let mean = 0;
  let m2 = 0;
  values.forEach((v, i) => {
    const delta = v - mean;
    mean += delta / (i + 1);
    m2 += delta * (v - mean);
  });
  return values.length >= k && values.length > 0
    ? { column, present, missing, mean, m2: Math.max(0, m2), histogram }
    : { column, present, missing, histogram };
}

/**
 * The category names a site may publish for a column: values held by at least k rows, sorted.
 * @example namedCategories(['a', 'a', 'b'], 2).names // ['a']
 */
export function namedCategories(cells: readonly string[], k: number): { names: string[]; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  for (const c of cells) if (!isMissingToken(c)) counts.set(c.trim(), (counts.get(c.trim()) ?? 0) + 1);
  const names = [...counts]
    .filter(([, n]) => n >= k)
    .map(([name]) => name)
    .sort();
  return { names, counts };
}

/** A column's raw counts per name: the names held by at least k rows (sorted), then (other), then (missing). */
function categoryCounts(table: Table, column: string, k: number): { names: string[]; counts: number[] } {
  const cells = columnOf(table, column);
  const { names, counts } = namedCategories(cells, k);
  const named = names.map((name) => counts.get(name) as number);
  const present = [...counts.values()].reduce((a, b) => a + b, 0);
  const other = present - named.reduce((a, b) => a + b, 0);
  return { names: [...names, OTHER_CATEGORY, MISSING_CATEGORY], counts: [...named, other, cells.length - present] };
}

/** The label a crosstab gives a cell's value: its name, "(other)" when too rare to name, or "(missing)". */
function labeller(cells: readonly string[], k: number): { names: string[]; label: (c: string) => string } {
  const { names } = namedCategories(cells, k);
  const known = new Set(names);
  return {
    names: [...names, OTHER_CATEGORY, MISSING_CATEGORY],
    label: (c) => (isMissingToken(c) ? MISSING_CATEGORY : known.has(c.trim()) ? c.trim() : OTHER_CATEGORY),
  };
}

/** A two-way table's raw counts, row-major over the row and column variables' names. */
function crosstabCounts(table: Table, rows: string, cols: string, k: number) {
  const a = columnOf(table, rows);
  const b = columnOf(table, cols);
  const ra = labeller(a, k);
  const cb = labeller(b, k);
  const width = cb.names.length;
  const counts = new Array<number>(ra.names.length * width).fill(0);
  a.forEach((cell, i) => {
    const idx = ra.names.indexOf(ra.label(cell)) * width + cb.names.indexOf(cb.label(b[i] as string));
    counts[idx] = (counts[idx] as number) + 1;
  });
  return { rows, cols, rowNames: ra.names, colNames: cb.names, counts };
}

/**
 * Category counts per column and two-way tables, suppressed together (`protectTables`): each column's counts, each
 * crosstab row, column and the whole table count as published totals, and a crosstab's row (column) sums are the
 * counts of its row (column) variable when that is asked too, so no published combination gives a withheld cell back.
 * A category held by fewer than k rows is never named: its rows count under "(other)".
 * @example tablesAnswer(table, ['smoking', 'readmitted'], [{ rows: 'smoking', cols: 'readmitted' }], 5).crosstabs[0].cells
 */
export function tablesAnswer(
  table: Table,
  categorical: readonly string[],
  crosstabs: readonly { rows: string; cols: string }[],
  k: number,
  noise: CountNoise = NO_NOISE,
): { categorical: CategoricalAnswer[]; crosstabs: CrosstabAnswer[] } {
  const columns = categorical.map((column) => {
    const raw = categoryCounts(table, column, k);
    return { column, names: raw.names, counts: noise.add(raw.counts) };
  });
  const tables = crosstabs.map((x) => {
    const raw = crosstabCounts(table, x.rows, x.cols, k);
    return { ...raw, counts: noise.add(raw.counts) };
  });
  const out = protectTables({ categorical: columns, crosstabs: tables }, k);
  return {
    categorical: columns.map((c, i) => {
      const cells = out.categorical[i] as CountCell[];
      const names = c.names.slice(0, -2);
      return {
        column: c.column,
        categories: names.map((name, j) => ({ name, count: cells[j] as CountCell })),
        other: cells[names.length] as CountCell,
        missing: cells[names.length + 1] as CountCell,
      };
    }),
    crosstabs: tables.map((x, i) => {
      const cells = out.crosstabs[i] as CountCell[];
      const width = x.colNames.length;
      return {
        rows: x.rows,
        cols: x.cols,
        rowNames: x.rowNames,
        colNames: x.colNames,
        cells: x.rowNames.map((_, r) => cells.slice(r * width, (r + 1) * width)),
      };
    }),
  };
}

/**
 * Counts per category of one column (a category held by fewer than k rows is never named: its rows count under "(other)").
 * @example categoricalAnswer(table, 'smoking', 5).categories // [{ name: 'current', count: { n: 41 } }, ...]
 */
export function categoricalAnswer(table: Table, column: string, k: number, noise: CountNoise = NO_NOISE): CategoricalAnswer {
  return tablesAnswer(table, [column], [], k, noise).categorical[0] as CategoricalAnswer;
}

/**
 * One two-way table of counts; each row, each column and the whole table count as published totals for suppression.
 * @example crosstabAnswer(table, 'smoking', 'readmitted_30d', 5).cells
 */
export function crosstabAnswer(table: Table, rows: string, cols: string, k: number, noise: CountNoise = NO_NOISE): CrosstabAnswer {
  return tablesAnswer(table, [], [{ rows, cols }], k, noise).crosstabs[0] as CrosstabAnswer;
}

/**
 * The site's row count, suppressed below k.
 * @example rowsAnswer(table, 5) // { n: 600 }
 */
export function rowsAnswer(table: Table, k: number, noise: CountNoise = NO_NOISE): ReturnType<typeof protectCount> {
  return protectCount(noise.add([table.rows.length])[0] as number, k);
}
