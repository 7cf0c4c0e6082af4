/** A site's table as text cells, for analytics: read by the agent's one CSV reader (data/readTable), every column kept. */
import { readTable, type CsvTable } from '../data/tabular.js';

/** Rows of text cells under a header (a missing cell is ''); nothing here leaves the agent. */
export interface Table {
  readonly source: string;
  readonly header: string[];
  readonly rows: string[][];
}

/**
 * The analytics view of a CSV read by `readTable`: every cell as text, a missing one (any missing token) as ''.
 * @example const t = textTable(readTable('site-a.csv')); t.rows[0] // ['54', '', 'ward-3']
 */
export function textTable(csv: CsvTable): Table {
  return {
    source: csv.path,
    header: [...csv.header],
    rows: csv.rows.map((r) => r.map((c) => (c === null ? '' : String(c)))),
  };
}

/**
 * Reads a site's CSV for analytics (the agent's one reader: errors name the file and line).
 * @example const t = readTextTable('site-a.csv'); t.rows.length // 600
 */
export function readTextTable(path: string): Table {
  return textTable(readTable(path));
}

/**
 * The rows whose `column` holds `value` (a simulated site cut from one export).
 * @example whereColumn(table, 'site', 'north').rows.length
 */
export function whereColumn(table: Table, column: string, value: string): Table {
  const j = table.header.indexOf(column);
  if (j < 0) throw new Error(`${table.source}: no column "${column}"; columns are ${table.header.join(', ')}`);
  return { source: `${table.source} (${column} = ${value})`, header: table.header, rows: table.rows.filter((r) => r[j] === value) };
}

/**
 * One column's cells, or undefined when the table has no such column.
 * @example columnCells(table, 'age') // ['54', 'NA', ...]
 */
export function columnCells(table: Table, column: string): string[] | undefined {
  const j = table.header.indexOf(column);
  return j < 0 ? undefined : table.rows.map((r) => r[j] ?? '');
}
