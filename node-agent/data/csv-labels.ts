/** The label side of a CSV: which rows have a label, and the class index or target values of each, by task. */
import { inferTask, type Task } from '../../protocol/index.js';

/** What the label parser needs to know: the label column(s), the task when fixed, the output names when fixed. */
export interface LabelOptions {
  /** The label column, or several separated by commas (multilabel, regression with several targets). */
  label: string;
  /** Absent: classification when `classes` is given (the loader's behaviour before tasks), else inferred from the label's values (see inferTask). */
  task?: Task;
  /** Output names when fixed in advance (the federation's spec): classes, [negative, positive], or label/target columns. */
  classes?: string[];
  /** Binary: the label value that is the positive class; default the second of the two values in sorted order. */
  positive?: string;
}

/** A data row of the file: its cells and the file line it starts on. */
export interface LabelRow {
  record: string[];
  line: number;
}

export interface ParsedLabels {
  task: Task;
  classes: string[];
  /** Indices (into the rows given) of the rows kept: those with every label cell present. */
  keep: number[];
  /** Class index per kept row (0/1 for binary; 0 for multilabel and regression). */
  y: Int32Array;
  /** Multilabel and regression: kept rows x classes.length values. */
  targets?: Float32Array;
  /** Columns holding the label(s), for the feature side to leave out. */
  labelColumns: string[];
  /** File lines of the rows skipped for a missing label. */
  skippedLines: number[];
}

/** Cells that mean "no label" in a hospital export. */
export const MISSING_LABEL = new Set(['', 'na', 'n/a', '?', 'nan', 'null']);
const TRUE = new Set(['1', 'yes', 'true']);
const FALSE = new Set(['0', 'no', 'false']);
const collator = new Intl.Collator('en', { numeric: true });

/** Sorts label values numerically when all are numbers, otherwise in natural ("a2" < "a10") order. */
export function sortClasses(values: string[]): string[] {
  const numeric = values.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  return numeric ? values.sort((a, b) => Number(a) - Number(b)) : values.sort(collator.compare);
}

/** "lines 3, 7, 9" or "lines 3, 7, 9, ... (12 in all)". */
export function describeLines(lines: readonly number[]): string {
  const shown = lines.slice(0, 10).join(', ');
  return `line${lines.length === 1 ? '' : 's'} ${shown}${lines.length > 10 ? `, ... (${lines.length} in all)` : ''}`;
}

/** The positive and negative class of a binary label: the spec's, or from the two values seen (and --positive). */
function binaryClasses(values: string[], opts: LabelOptions, fail: (msg: string) => never): string[] {
  if (opts.classes) return [...opts.classes];
  const sorted = sortClasses([...values]);
  if (opts.positive !== undefined) {
    const others = sorted.filter((v) => v.toLowerCase() !== opts.positive?.toLowerCase());
    if (others.length !== 1)
      fail(
        `a binary label needs exactly one value besides the positive "${opts.positive}"; column "${opts.label}" holds ${sorted.join(', ')}`,
      );
    return [others[0] as string, opts.positive];
  }
  if (sorted.length !== 2)
    fail(`a binary label needs exactly two values; column "${opts.label}" holds ${sorted.length}: ${sorted.slice(0, 10).join(', ')}`);
  return sorted;
}

/**
 * Reads the label cells of every row: rows with a missing label cell (empty, NA, ?) are skipped and listed; a
 * present value that does not fit the task fails naming the line, the column and the value.
 * @example parseLabels(['x', 'y'], rows, { label: 'y', task: 'binary' }, fail).classes // ['no', 'yes']
 */
export function parseLabels(
  header: readonly string[],
  rows: readonly LabelRow[],
  opts: LabelOptions,
  fail: (msg: string) => never,
): ParsedLabels {
  const named = opts.label
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const task0 = opts.task;
  const columns = (task0 === 'multilabel' || task0 === 'regression') && opts.classes ? [...opts.classes] : named;
  if (columns.length === 0) fail('no label column named');
  if (
    (task0 === 'multilabel' || task0 === 'regression') &&
    opts.classes &&
    named.length > 0 &&
    named.join() !== opts.classes.join() &&
    !(named.length === 1 && opts.classes.includes(named[0] as string))
  ) {
    fail(`--label ${opts.label} does not name the federation's ${task0} columns ${opts.classes.join(', ')}`);
  }
  const cols = columns.map((name) => {
    const index = header.indexOf(name);
    if (index < 0) fail(`label column "${name}" is missing; columns are ${header.join(', ')}`);
    return index;
  });
  const keep: number[] = [];
  const skippedLines: number[] = [];
  rows.forEach(({ record, line }, i) => {
    if (cols.some((c) => MISSING_LABEL.has((record[c] ?? '').trim().toLowerCase()))) skippedLines.push(line);
    else keep.push(i);
  });
  if (keep.length === 0) fail(`no row has a label in ${columns.map((c) => `"${c}"`).join(', ')}`);
  const cell = (i: number, j: number): string => ((rows[i] as LabelRow).record[cols[j] as number] as string).trim();
  const distinct = [...new Set(keep.flatMap((i) => cols.map((_, j) => cell(i, j))))];
  const task = task0 ?? (opts.classes ? 'classification' : inferTask({ columns: cols.length, values: distinct }));
  if (cols.length > 1 && task !== 'multilabel' && task !== 'regression')
    fail(`several label columns (${columns.join(', ')}) need --task multilabel or regression, not ${task}`);

  const n = keep.length;
  const y = new Int32Array(n);
  const where = (i: number, j: number): string => `line ${(rows[i] as LabelRow).line}, column "${columns[j]}"`;
  if (task === 'classification' || task === 'binary') {
    const classes = task === 'binary' ? binaryClasses(distinct, opts, fail) : opts.classes ? [...opts.classes] : sortClasses(distinct);
    const index = new Map(classes.map((c, k) => [c.toLowerCase(), k]));
    if (index.size !== classes.length) fail(`classes list has duplicates: ${classes.join(', ')}`);
    keep.forEach((i, r) => {
      const k = index.get(cell(i, 0).toLowerCase());
      if (k === undefined)
        fail(`line ${(rows[i] as LabelRow).line}: label "${cell(i, 0)}" is not one of the classes ${classes.join(', ')}`);
      y[r] = k as number;
    });
    return { task, classes, keep, y, labelColumns: columns, skippedLines };
  }
  const targets = new Float32Array(n * cols.length);
  keep.forEach((i, r) => {
    cols.forEach((_, j) => {
      const text = cell(i, j);
      let value: number;
      if (task === 'multilabel') {
        const lower = text.toLowerCase();
        value = TRUE.has(lower) ? 1 : FALSE.has(lower) ? 0 : Number.NaN;
        if (Number.isNaN(value)) fail(`${where(i, j)}: "${text}" is not a 0/1 label (use 0/1, yes/no or true/false)`);
      } else {
        value = Number(text);
        if (!Number.isFinite(value)) fail(`${where(i, j)}: target "${text}" is not a finite number`);
      }
      targets[r * cols.length + j] = value;
    });
  });
  return { task, classes: columns, keep, y, targets, labelColumns: columns, skippedLines };
}
