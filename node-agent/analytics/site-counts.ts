/** What one site computes for a count query: per-column moments and histograms, category counts and crosstabs, suppressed at k. */
import {
  MISSING_CATEGORY,
  OTHER_CATEGORY,
  isMissingToken,
  type CategoricalAnswer,
  type CrosstabAnswer,
  type NumericAnswer,
} from '../../protocol/index.js';
import { allSuppressed, protectCells, protectCount } from './disclosure.js';
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

/**
 * Counts per category (a category held by fewer than k rows is never named: its rows count under "(other)").
 * @example categoricalAnswer(table, 'smoking', 5).categories // [{ name: 'current', count: { n: 41 } }, ...]
 */
export function categoricalAnswer(table: Table, column: string, k: number, noise: CountNoise = NO_NOISE): CategoricalAnswer {
  const cells = columnOf(table, column);
  const { names, counts } = namedCategories(cells, k);
  const named = names.map((name) => counts.get(name) as number);
  const present = [...counts.values()].reduce((a, b) => a + b, 0);
  const other = present - named.reduce((a, b) => a + b, 0);
  const raw = [...named, other, cells.length - present];
  const out = protectCells(noise.add(raw), [raw.map((_, i) => i)], k);
  return {
    column,
    categories: names.map((name, i) => ({ name, count: out[i] as CrosstabAnswer['cells'][0][0] })),
    other: out[names.length] as CategoricalAnswer['other'],
    missing: out[names.length + 1] as CategoricalAnswer['missing'],
  };
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

/**
 * A two-way table of counts; each row, each column and the whole table count as published totals for suppression.
 * @example crosstabAnswer(table, 'smoking', 'readmitted_30d', 5).cells
 */
export function crosstabAnswer(table: Table, rows: string, cols: string, k: number, noise: CountNoise = NO_NOISE): CrosstabAnswer {
  const a = columnOf(table, rows);
  const b = columnOf(table, cols);
  const ra = labeller(a, k);
  const cb = labeller(b, k);
  const width = cb.names.length;
  const flat = new Array<number>(ra.names.length * width).fill(0);
  a.forEach((cell, i) => {
    const idx = ra.names.indexOf(ra.label(cell)) * width + cb.names.indexOf(cb.label(b[i] as string));
    flat[idx] = (flat[idx] as number) + 1;
  });
  const rowLines = ra.names.map((_, r) => Array.from({ length: width }, (_, c) => r * width + c));
  const colLines = cb.names.map((_, c) => ra.names.map((_, r) => r * width + c));
  const out = protectCells(noise.add(flat), [...rowLines, ...colLines, flat.map((_, i) => i)], k);
  return {
    rows,
    cols,
    rowNames: ra.names,
    colNames: cb.names,
    cells: rowLines.map((line) => line.map((i) => out[i] as CrosstabAnswer['cells'][0][0])),
  };
}

/**
 * The site's row count, suppressed below k.
 * @example rowsAnswer(table, 5) // { n: 600 }
 */
export function rowsAnswer(table: Table, k: number, noise: CountNoise = NO_NOISE): ReturnType<typeof protectCount> {
  return protectCount(noise.add([table.rows.length])[0] as number, k);
}
