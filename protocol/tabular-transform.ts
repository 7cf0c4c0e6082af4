/**
 * Raw tabular cells -> model features, the one transform used at training, evaluation and prediction (agents,
 * simulator, coordinator), and the check of cells against the data dictionary that lists every problem at once.
 */
import { featureSources, type DictionaryColumn, type Preprocessing } from './data-dictionary.js';

/** One raw cell: text as exported, a number (JSON rows), or null when missing. */
export type Cell = string | number | null;

/** Rows of raw cells under a header; `where(i)` names row i for messages ("line 7", "rows[2]"). */
export interface RawTable {
  header: readonly string[];
  rows: readonly (readonly Cell[])[];
  where(i: number): string;
}

/** A cell's number, or NaN when it is not a finite number. */
export function cellNumber(cell: Cell): number {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : Number.NaN;
  if (cell === null || cell.trim() === '') return Number.NaN;
  const v = Number(cell);
  return Number.isFinite(v) ? v : Number.NaN;
}

/**
 * The model's input matrix (rows x features) of a table. Missing numeric cells take the pooled imputation value
 * (NaN while the federation has not pooled it yet); categories outside the vocabulary count as `other`.
 * Cells must fit the dictionary (see dictionaryProblems); a numeric cell that is not a number throws.
 * @example transformTable(spec.preprocessing, table) // Float32Array of table.rows.length * spec.features.length
 */
export function transformTable(pre: Preprocessing, table: RawTable): Float32Array {
  const sources = featureSources(pre.columns);
  const index = new Map(table.header.map((h, i) => [h, i]));
  const byName = new Map(pre.columns.map((c) => [c.name, c]));
  const columnIndex = sources.map((s) => {
    const i = index.get(s.column);
    if (i === undefined) throw new RangeError(`column "${s.column}" is missing; columns are ${table.header.join(', ')}`);
    return i;
  });
  const width = sources.length;
  const x = new Float32Array(table.rows.length * width);
  table.rows.forEach((row, r) => {
    sources.forEach((s, j) => {
      const cell = row[columnIndex[j] as number] ?? null;
      const missing = cell === null;
      let v: number;
      if (s.kind === 'missing') v = missing ? 1 : 0;
      else if (s.kind === 'value') {
        v = missing ? (pre.impute?.[s.column] ?? Number.NaN) : cellNumber(cell);
        if (!missing && Number.isNaN(v))
          throw new RangeError(`${table.where(r)}, column "${s.column}": ${JSON.stringify(cell)} is not a number`);
      } else {
        const column = byName.get(s.column) as Extract<DictionaryColumn, { type: 'category' }>;
        const value = missing ? null : String(cell);
        const known = value !== null && column.categories.includes(value);
        v = s.category === 'other' ? (value !== null && !known ? 1 : 0) : value === s.category ? 1 : 0;
      }
      x[r * width + j] = v;
    });
  });
  return x;
}

/** Per column, the cells that break one rule: how many, and the first. */
class Tally {
  private readonly found = new Map<string, { count: number; first: string; values: Map<string, number> }>();
  add(key: string, where: string, value?: string): void {
    const t = this.found.get(key) ?? { count: 0, first: where, values: new Map<string, number>() };
    t.count++;
    if (value !== undefined) t.values.set(value, (t.values.get(value) ?? 0) + 1);
    this.found.set(key, t);
  }
  lines(): string[] {
    return [...this.found].map(([key, t]) => {
      const values =
        t.values.size > 0
          ? `: ${[...t.values]
              .slice(0, 5)
              .map(([v, n]) => `${JSON.stringify(v)} (${n})`)
              .join(', ')}${t.values.size > 5 ? `, and ${t.values.size - 5} more` : ''}`
          : '';
      return `${key}: ${t.count} cell${t.count === 1 ? '' : 's'}${values} (first at ${t.first})`;
    });
  }
}

/**
 * Everything in a table that does not fit the dictionary, one line per problem: a column missing, numeric cells that
 * are not numbers, values below min or above max, categories not listed, missing cells where none are allowed.
 * An empty list means the table fits.
 * @example dictionaryProblems(columns, table) // ['column "age" is missing', 'column "sex": category not in the dictionary: 2 cells: "x" (2) (first at line 4)']
 */
export function dictionaryProblems(columns: readonly DictionaryColumn[], table: RawTable): string[] {
  const index = new Map(table.header.map((h, i) => [h, i]));
  const problems: string[] = [];
  const tally = new Tally();
  for (const c of columns) {
    const i = index.get(c.name);
    if (i === undefined) {
      problems.push(`column "${c.name}" (${c.type}) is missing`);
      continue;
    }
    const col = `column "${c.name}"`;
    table.rows.forEach((row, r) => {
      const cell = row[i] ?? null;
      if (cell === null) {
        if (!c.missing) tally.add(`${col}: missing cells, which the dictionary does not allow`, table.where(r));
        return;
      }
      if (c.type === 'number') {
        const v = cellNumber(cell);
        if (Number.isNaN(v)) tally.add(`${col}: not a number (the dictionary says number)`, table.where(r), String(cell));
        else if (c.min !== undefined && v < c.min)
          tally.add(`${col}: below the minimum ${c.min}${c.unit ? ` ${c.unit}` : ''}`, table.where(r), String(cell));
        else if (c.max !== undefined && v > c.max)
          tally.add(`${col}: above the maximum ${c.max}${c.unit ? ` ${c.unit}` : ''}`, table.where(r), String(cell));
        return;
      }
      const value = String(cell);
      if (c.unlisted !== 'other' && !c.categories.includes(value) && !(c.other ?? []).includes(value)) {
        tally.add(`${col}: categories the dictionary does not list`, table.where(r), value);
      }
    });
  }
  return [...problems, ...tally.lines()];
}
