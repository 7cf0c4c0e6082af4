/** Categorical columns and crosstabs of one answer suppressed together: a crosstab's row or column sums are a category's count. */
import type { CountCell } from './analytics.js';
import { protectCells, type Line } from './disclosure.js';

/** One answer's category counts and crosstabs, raw (names end with (other) and (missing) in both). */
export interface CountTables {
  /** Per column: a count per name; they sum to the published row count. */
  categorical: readonly { column: string; names: readonly string[]; counts: readonly number[] }[];
  /** Per crosstab: the row-major matrix over its row and column names; it sums to the published row count. */
  crosstabs: readonly { rows: string; cols: string; rowNames: readonly string[]; colNames: readonly string[]; counts: readonly number[] }[];
}

/**
 * Suppresses every category count and crosstab cell of one answer in one pass of `protectCells`, so no published
 * combination gives a withheld cell back: each column's counts and each crosstab are lines of the row count; a
 * crosstab's row r (column c) sums to the count of that name in its row (column) variable's categorical answer when the
 * same answer publishes it (a `{ total, parts }` line: the category's own count may be the withheld one), else to a
 * margin treated as published. The line rule also keeps treating every crosstab row and column as a published sum
 * (as for a crosstab alone), so no line holds a single withheld cell or withheld cells summing to less than k. Without the joint pass a crosstab could publish whole the row of a category that the
 * categorical answer withheld as the complement of a small cell, and the row count minus the rest would give it back.
 * @example protectTables({ categorical: [{ column: 'a', names, counts }], crosstabs: [x] }, 5).crosstabs[0]
 */
export function protectTables(tables: CountTables, k: number): { categorical: CountCell[][]; crosstabs: CountCell[][] } {
  const counts: number[] = [];
  /** The line rule's lines (every crosstab row and column as a published sum, as for a crosstab alone, and the links). */
  const lines: Line[] = [];
  /** The reader's true relations: a row (column) sums to its category's count where one is published. */
  const relations: Line[] = [];
  const place = (values: readonly number[]) => {
    const start = counts.length;
    counts.push(...values);
    return values.map((_, i) => start + i);
  };
  const both = (line: Line) => {
    lines.push(line);
    relations.push(line);
  };
  const categorical = tables.categorical.map((c) => place(c.counts));
  categorical.forEach(both);
  const named = (column: string, name: string) => {
    const i = tables.categorical.findIndex((c) => c.column === column);
    const j = i < 0 ? -1 : (tables.categorical[i]?.names.indexOf(name) ?? -1);
    return j < 0 ? undefined : categorical[i]?.[j];
  };
  const margin = (total: number | undefined, parts: number[]) => {
    lines.push(parts);
    if (total === undefined) relations.push(parts);
    else both({ total, parts });
  };
  const crosstabs = tables.crosstabs.map((x) => {
    const cells = place(x.counts);
    const width = x.colNames.length;
    x.rowNames.forEach((name, r) => margin(named(x.rows, name), cells.slice(r * width, (r + 1) * width)));
    x.colNames.forEach((name, c) =>
      margin(
        named(x.cols, name),
        x.rowNames.map((_, r) => cells[r * width + c] as number),
      ),
    );
    both(cells);
    return cells;
  });
  const out = protectCells(counts, lines, k, relations);
  const pick = (cells: number[]) => cells.map((i) => out[i] as CountCell);
  return { categorical: categorical.map(pick), crosstabs: crosstabs.map(pick) };
}
