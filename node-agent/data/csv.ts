/** Loads a tabular CSV file (header row, numeric features, one label column) into a Dataset. */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Dataset } from './dataset.js';

/** Which column is the label, which columns are features, and the class list if fixed in advance. */
export interface CsvOptions {
  label: string;
  /** Feature columns in the order the model sees them; default: every column but the label, in file order. */
  features?: string[];
  /** Class names in index order; default: the distinct label values, sorted (numerically when they are numbers). */
  classes?: string[];
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
}

const collator = new Intl.Collator('en', { numeric: true });

/** Sorts label values numerically when all are numbers, otherwise in natural ("a2" < "a10") order. */
function sortClasses(values: string[]): string[] {
  const numeric = values.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  return numeric ? values.sort((a, b) => Number(a) - Number(b)) : values.sort(collator.compare);
}

/**
 * Reads a CSV file with a header row. Every feature cell must be a finite number; errors name
 * the file, line, column and value.
 * @example const ds = loadCsv('site-a.csv', { label: 'diagnosis' });
 */
export function loadCsv(path: string, opts: CsvOptions): Dataset {
  const fail = (msg: string): never => {
    throw new Error(`${path}: ${msg}`);
  };
  let rows: CsvRecord[];
  try {
    rows = parse(readFileSync(path, 'utf8'), { info: true, skip_empty_lines: true, trim: true, bom: true }) as unknown as CsvRecord[];
  } catch (cause) {
    throw new Error(`${path}: cannot parse CSV: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const [head, ...body] = rows;
  if (!head) return fail('file is empty; a header row is required');
  const header = head.record;
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) fail(`header names column "${name}" twice`);
    seen.add(name);
  }
  const columnOf = (name: string, role: string): number => {
    const index = header.indexOf(name);
    if (index < 0) fail(`${role} column "${name}" is missing; columns are ${header.join(', ')}`);
    return index;
  };
  const labelCol = columnOf(opts.label, 'label');
  const features = opts.features ?? header.filter((_, i) => i !== labelCol);
  if (features.length === 0) fail('no feature columns');
  if (features.includes(opts.label)) fail(`label column "${opts.label}" is also listed as a feature`);
  const featureCols = features.map((name) => columnOf(name, 'feature'));
  if (body.length === 0) fail('header row but no data rows');

  const labels = body.map(({ record, info }) => {
    const value = record[labelCol] ?? '';
    if (value === '') fail(`line ${info.lines}: empty label in column "${opts.label}"`);
    return value;
  });
  const classes = opts.classes ? [...opts.classes] : sortClasses([...new Set(labels)]);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  if (classIndex.size !== classes.length) fail(`classes list has duplicates: ${classes.join(', ')}`);

  const n = body.length;
  const width = features.length;
  const x = new Float32Array(n * width);
  const y = new Int32Array(n);
  body.forEach(({ record, info }, i) => {
    featureCols.forEach((col, j) => {
      const cell = record[col] ?? '';
      const value = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) {
        fail(`line ${info.lines} (data row ${i + 1}), column "${features[j]}": "${cell}" is not a finite number`);
      }
      x[i * width + j] = value;
    });
    const label = labels[i] as string;
    const index = classIndex.get(label);
    if (index === undefined) fail(`line ${info.lines}: label "${label}" is not one of the classes ${classes.join(', ')}`);
    y[i] = index as number;
  });
  return { x, y, n, inputShape: [width], classes, features: [...features] };
}
