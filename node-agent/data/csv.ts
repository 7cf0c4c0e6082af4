/** Loads a tabular CSV file (header row, numeric features, label column(s)) into a Dataset. */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Dataset } from './dataset.js';
import { describeLines, parseLabels, type LabelOptions } from './csv-labels.js';

/** Which column(s) hold the label, which columns are features, and the task and output names if fixed in advance. */
export interface CsvOptions extends LabelOptions {
  /** Feature columns in the order the model sees them; default: every column but the label(s), in file order. */
  features?: string[];
  /** Told once about rows skipped for a missing label (default: a warning on stderr). */
  warn?: (message: string) => void;
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * Reads a CSV file with a header row. Every feature cell must be a finite number; errors name the file, line, column
 * and value. The label side is parseLabels': the task (given or inferred), classes, and rows without a label skipped
 * with one message naming their lines.
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
  if (body.length === 0) fail('header row but no data rows');
  const labels = parseLabels(
    header,
    body.map(({ record, info }) => ({ record, line: info.lines })),
    opts,
    fail,
  );
  if (labels.skippedLines.length > 0) {
    (opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(
      `${path}: skipped ${labels.skippedLines.length} row${labels.skippedLines.length === 1 ? '' : 's'} with no label (${describeLines(labels.skippedLines)})`,
    );
  }
  const { classes, y, labelColumns } = labels;
  const labelled = labels.keep.map((i) => body[i] as CsvRecord);
  const features = opts.features ?? header.filter((name) => !labelColumns.includes(name));
  if (features.length === 0) fail('no feature columns');
  const both = features.find((name) => labelColumns.includes(name));
  if (both) fail(`label column "${both}" is also listed as a feature`);
  const featureCols = features.map((name) => columnOf(name, 'feature'));

  const n = labelled.length;
  const width = features.length;
  const x = new Float32Array(n * width);
  labelled.forEach(({ record, info }, i) => {
    featureCols.forEach((col, j) => {
      const cell = record[col] ?? '';
      const value = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) {
        fail(`line ${info.lines} (data row ${i + 1}), column "${features[j]}": "${cell}" is not a finite number`);
      }
      x[i * width + j] = value;
    });
  });
  const out: Dataset = { x, y, n, inputShape: [width], classes, features: [...features] };
  if (labels.targets) out.targets = labels.targets;
  if (labels.task !== 'classification') out.task = labels.task;
  return out;
}
