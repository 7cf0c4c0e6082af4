/** A site's table as text cells, for analytics: every column kept as written (missing tokens and categories included). */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

/** Rows of text cells under a header; nothing here leaves the agent. */
export interface Table {
  readonly source: string;
  readonly header: string[];
  readonly rows: string[][];
}

/**
 * Reads a CSV file with a header row (a duplicated column name or a ragged row is an error naming the file and line).
 * @example const t = readTable('site-a.csv'); t.rows.length // 600
 */
export function readTable(path: string): Table {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(readFileSync(path, 'utf8'), {
      info: true,
      skip_empty_lines: true,
      trim: true,
      bom: true,
      relax_column_count: true,
    }) as unknown as typeof records;
  } catch (cause) {
    throw new Error(`${path}: cannot parse CSV: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const [head, ...body] = records;
  if (!head) throw new Error(`${path}: file is empty; a header row is required`);
  const header = head.record;
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new Error(`${path}: header names column "${name}" twice`);
    seen.add(name);
  }
  for (const { record, info } of body) {
    if (record.length !== header.length)
      throw new Error(`${path}: line ${info.lines} has ${record.length} cells, the header ${header.length}`);
  }
  return { source: path, header, rows: body.map((r) => r.record) };
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
