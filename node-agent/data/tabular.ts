/** Tabular CSV as sites export it: missing-value tokens, text categories, ignored columns; checked and transformed by the study's dictionary. */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import {
  CohortError,
  dictionaryProblems,
  featureNames,
  inferKinds,
  MISSING_TOKENS,
  summarizeTable,
  transformTable,
  type Cell,
  type ColumnKind,
  type Task,
  type DataSummary,
  type Preprocessing,
  type RawTable,
} from '../../protocol/index.js';
import type { Dataset } from './dataset.js';
import { describeLines, parseLabels } from './csv-labels.js';

/** Cells that mean "missing" unless told otherwise (compared trimmed, case-insensitively): analytics' list, one for both. */
export const DEFAULT_MISSING_TOKENS: readonly string[] = MISSING_TOKENS;

/** A CSV file read as raw cells (missing ones null), with each row's line number. */
export interface CsvTable extends RawTable {
  path: string;
  lines: number[];
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * Reads a CSV with a header row; cells equal to a missing token become null. Errors name the file (and line): one that
 * does not parse, a duplicated column name, a row with more or fewer cells than the header, no data rows. The one CSV
 * reader of the agent (training and analytics).
 * @example const t = readTable('site-a.csv'); t.rows[0] // ['54', null, 'ward-3']
 */
export function readTable(path: string, missing: readonly string[] = DEFAULT_MISSING_TOKENS): CsvTable {
  let records: CsvRecord[];
  try {
    records = parse(readFileSync(path, 'utf8'), {
      info: true,
      skip_empty_lines: true,
      trim: true,
      bom: true,
      relax_column_count: true,
    }) as unknown as CsvRecord[];
  } catch (cause) {
    throw new Error(`${path}: cannot parse CSV: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const [head, ...body] = records;
  if (!head) throw new Error(`${path}: file is empty; a header row is required`);
  const header = head.record;
  const twice = header.find((h, i) => header.indexOf(h) !== i);
  if (twice !== undefined) throw new Error(`${path}: header names column "${twice}" twice`);
  if (body.length === 0) throw new Error(`${path}: header row but no data rows`);
  for (const { record, info } of body) {
    if (record.length !== header.length)
      throw new Error(`${path}: line ${info.lines} has ${record.length} cells, the header ${header.length}`);
  }
  const tokens = new Set(missing.map((t) => t.trim().toLowerCase()));
  const rows = body.map(({ record }) => record.map((cell): Cell => (tokens.has(cell.trim().toLowerCase()) ? null : cell)));
  const lines = body.map(({ info }) => info.lines);
  return { path, header, rows, lines, where: (i) => `line ${lines[i]}` };
}

/**
 * Throws DATA_DICTIONARY_MISMATCH listing, in one message, everything in the table that does not fit the dictionary.
 * @example checkTable(table, spec.preprocessing.columns) // throws 'site.csv does not fit the study's data dictionary (2 problems): 1) …; 2) …'
 */
export function checkTable(table: CsvTable, columns: Preprocessing['columns']): void {
  const problems = dictionaryProblems(columns, table);
  if (problems.length === 0) return;
  const list = problems.map((p, i) => `${i + 1}) ${p}`).join('; ');
  throw new CohortError(
    'DATA_DICTIONARY_MISMATCH',
    `${table.path} does not fit the study's data dictionary (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${list}`,
  );
}

/** The table with only the given rows (indices into its data rows), line numbers kept. */
export function selectTableRows(table: CsvTable, rows: readonly number[]): CsvTable {
  const picked = rows.map((r) => {
    const row = table.rows[r];
    if (!row) throw new RangeError(`${table.path}: row index ${r} out of range [0, ${table.rows.length})`);
    return row;
  });
  const lines = rows.map((r) => table.lines[r] as number);
  return { ...table, rows: picked, lines, where: (i) => `line ${lines[i]}` };
}

/**
 * A site's CSV (or the given rows of it) as the model sees it: checked against the dictionary, then imputed,
 * indicated and one-hot encoded (missing numeric cells stay NaN until the federation's imputation values are
 * known; see imputeMissing).
 * @example loadTabular('site.csv', { label: 'outcome', preprocessing: spec.preprocessing, classes: spec.classes })
 */
export function loadTabular(
  path: string,
  opts: {
    label: string;
    preprocessing: Preprocessing;
    classes: readonly string[];
    task?: Task;
    missing?: readonly string[];
    rows?: readonly number[];
    warn?: (message: string) => void;
  },
): Dataset {
  const whole = readTable(path, opts.missing);
  const given = opts.rows ? selectTableRows(whole, opts.rows) : whole;
  const fail = (msg: string): never => {
    throw new Error(`${path}: ${msg}`);
  };
  // The label side (csv-labels.ts): rows without a label are skipped with one message, the rest read by the task.
  const record = (row: readonly Cell[]): string[] => row.map((cell) => (cell === null ? '' : String(cell)));
  const labels = parseLabels(
    given.header,
    given.rows.map((row, i) => ({ record: record(row), line: given.lines[i] as number })),
    { label: opts.label, classes: [...opts.classes], ...(opts.task ? { task: opts.task } : {}) },
    fail,
  );
  if (labels.skippedLines.length > 0) {
    (opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(
      `${path}: skipped ${labels.skippedLines.length} row${labels.skippedLines.length === 1 ? '' : 's'} with no label (${describeLines(labels.skippedLines)})`,
    );
  }
  const table = labels.skippedLines.length > 0 ? selectTableRows(given, labels.keep) : given;
  checkTable(table, opts.preprocessing.columns);
  const features = featureNames(opts.preprocessing.columns);
  const x = transformTable(opts.preprocessing, table);
  const out: Dataset = { x, y: labels.y, n: table.rows.length, inputShape: [features.length], classes: [...labels.classes], features };
  if (labels.targets) out.targets = labels.targets;
  if (labels.task !== 'classification') out.task = labels.task;
  return out;
}

/** Which columns of a CSV are features: `columns` when given, else all but the label and the ignored ones. */
export interface ColumnChoice {
  label: string;
  columns?: readonly string[];
  ignore?: readonly string[];
  /** Columns to treat as categories even when every value is a number (codes). */
  categorical?: readonly string[];
}

/**
 * The feature columns of a table and their kinds (number when every non-missing cell is a finite number).
 * Names a column that is asked for but absent.
 * @example columnKinds(table, { label: 'outcome', ignore: ['id'] }) // { age: 'number', ward: 'category' }
 */
export function columnKinds(table: CsvTable, choice: ColumnChoice): Record<string, ColumnKind> {
  const named = [...(choice.columns ?? []), ...(choice.ignore ?? []), ...(choice.categorical ?? []), choice.label];
  const absent = named.filter((c) => !table.header.includes(c));
  if (absent.length > 0)
    throw new Error(`${table.path}: no column ${absent.map((c) => `"${c}"`).join(', ')}; columns are ${table.header.join(', ')}`);
  const skip = table.header.filter(
    (h) => h === choice.label || (choice.ignore ?? []).includes(h) || (choice.columns !== undefined && !choice.columns.includes(h)),
  );
  const kinds = inferKinds(table, skip);
  for (const c of choice.categorical ?? []) if (c in kinds) kinds[c] = 'category';
  const order = choice.columns ?? table.header.filter((h) => h in kinds);
  return Object.fromEntries(order.map((c) => [c, kinds[c] as ColumnKind]));
}

/**
 * `cohort data summarize`: a site's counts per feature column (no row leaves), small counts suppressed.
 * @example summarizeCsv('site.csv', { label: 'outcome', ignore: ['id'] }, { minCell: 5 })
 */
export function summarizeCsv(
  path: string,
  choice: ColumnChoice,
  opts: { minCell?: number; missing?: readonly string[] } = {},
): DataSummary {
  const table = readTable(path, opts.missing);
  return summarizeTable(table, columnKinds(table, choice), {
    label: choice.label,
    ...(opts.minCell !== undefined ? { minCell: opts.minCell } : {}),
  });
}
