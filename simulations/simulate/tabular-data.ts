/**
 * A simulated federation on CSV exports: the data dictionary agreed from each institution's own column summary,
 * and natural partitions (one institution per value of a column, or per file), each institution keeping its own test rows.
 */
import { resolve } from 'node:path';
import {
  dictionaryFromSummaries,
  featureNames,
  summarizeTable,
  transformTable,
  type ColumnKind,
  type DroppedColumn,
  type Preprocessing,
} from '../../protocol/index.js';
import {
  columnKinds,
  partition,
  readTable,
  selectTableRows,
  splitTrainTest,
  type CsvTable,
  type Dataset,
  type PartitionScheme,
} from '../../node-agent/data/index.js';
import type { DataRef } from '../../node-agent/data-source.js';
import { parseLabels, type LabelRow, type ParsedLabels } from '../../node-agent/data/csv-labels.js';
import type { Task } from '../../protocol/index.js';

/** How a CSV's label reads: the task (absent: inferred from the label) and a binary label's positive value. */
export interface LabelChoice {
  task?: Task;
  positive?: string;
}

/** How CSV columns become features (the simulator's `--ignore-columns`, `--columns`, `--missing`, ...). */
export interface TabularOptions {
  ignore?: string[];
  columns?: string[];
  categorical?: string[];
  missing?: string[];
  /** Categories seen fewer times in the pooled counts fall into `other` (default 5). */
  minCategoryCount?: number;
}

/** Institutions as the data is split in the world: one per value of a column, or one per file. */
export type NaturalPartition = { kind: 'column'; column: string } | { kind: 'files' };

export interface TabularData {
  all: Dataset;
  preprocessing: Preprocessing;
  features: string[];
  train: number[];
  test: number[];
  sites: number[][];
  /** Each institution's own test rows (natural partitions), indices into `all`. */
  institutionTests?: number[][];
  /** What each institution is (the column value or the file), natural partitions only. */
  institutionNames?: string[];
  /** What each agent loads: its file and its training rows in that file. */
  agents: { ref: DataRef; rows: number[] }[];
  dropped: DroppedColumn[];
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * The labels of every file, read as one (so the task and the output names are agreed over all of them): rows without
 * a label are left out of every table with one message naming their files and lines; `kept[f]` maps a table's
 * remaining rows to its rows in the file.
 */
function labelsOf(
  raw: readonly CsvTable[],
  label: string,
  choice: LabelChoice,
): { tables: CsvTable[]; kept: number[][]; labels: ParsedLabels } {
  const named = label
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const rows: LabelRow[] = raw.flatMap((t) => {
    const cols = named.map((name) => {
      const c = t.header.indexOf(name);
      if (c < 0) throw new Error(`${t.path}: label column "${name}" is missing; columns are ${t.header.join(', ')}`);
      return c;
    });
    return t.rows.map((row, i) => ({ record: cols.map((c) => String(row[c] ?? '')), line: t.lines[i] as number }));
  });
  const fail = (msg: string): never => {
    throw new Error(`${raw.map((t) => t.path).join(', ')}: ${msg}`);
  };
  const labels = parseLabels(named, rows, { label, ...choice }, fail);
  const offsets = raw.map((_, f) => raw.slice(0, f).reduce((n, t) => n + t.rows.length, 0));
  const keep = new Set(labels.keep);
  const kept = raw.map((t, f) => t.rows.map((_, i) => i).filter((i) => keep.has((offsets[f] as number) + i)));
  const skipped = raw.flatMap((t, f) =>
    t.rows.flatMap((_, i) => (keep.has((offsets[f] as number) + i) ? [] : [`${t.path}:${t.lines[i]}`])),
  );
  if (skipped.length > 0)
    process.stderr.write(
      `skipped ${skipped.length} row${skipped.length === 1 ? '' : 's'} with no label (${skipped.slice(0, 10).join(', ')}${skipped.length > 10 ? ', ...' : ''})\n`,
    );
  return { tables: raw.map((t, f) => selectTableRows(t, kept[f] as number[])), kept, labels };
}

/** Column kinds over every file: a column is numeric only if it is numeric in all of them. */
function kindsOf(tables: readonly CsvTable[], label: string, opts: TabularOptions, partitionColumn?: string): Record<string, ColumnKind> {
  const ignore = [...(opts.ignore ?? []), ...(partitionColumn ? [partitionColumn] : [])];
  if (opts.columns?.includes(label)) throw new Error(`--columns lists the label column "${label}"`);
  if (partitionColumn && opts.columns?.includes(partitionColumn))
    throw new Error(`--columns lists the partition column "${partitionColumn}", which never becomes a feature`);
  const each = tables.map((t) =>
    columnKinds(t, {
      label,
      ignore,
      ...(opts.columns ? { columns: opts.columns } : {}),
      ...(opts.categorical ? { categorical: opts.categorical } : {}),
    }),
  );
  const first = each[0] as Record<string, ColumnKind>;
  for (const [i, kinds] of each.entries()) {
    const names = Object.keys(kinds).join(', ');
    if (names !== Object.keys(first).join(', '))
      throw new Error(
        `${tables[i]?.path} has the feature columns ${names}, ${tables[0]?.path} has ${Object.keys(first).join(', ')}: give the files the same columns (or --ignore-columns / --columns)`,
      );
  }
  return Object.fromEntries(Object.keys(first).map((name) => [name, each.some((k) => k[name] === 'category') ? 'category' : 'number']));
}

/** Row groups of a table by the value of a column (sorted values), a missing value naming its line. */
function groupBy(table: CsvTable, column: string): { names: string[]; rows: number[][] } {
  const col = table.header.indexOf(column);
  if (col < 0)
    throw new Error(`--partition column:${column}: ${table.path} has no column "${column}"; columns are ${table.header.join(', ')}`);
  const groups = new Map<string, number[]>();
  table.rows.forEach((row, i) => {
    const v = row[col] ?? null;
    if (v === null)
      throw new Error(
        `--partition column:${column}: ${table.path} ${table.where(i)} has no value in "${column}", so it belongs to no institution`,
      );
    groups.set(String(v), [...(groups.get(String(v)) ?? []), i]);
  });
  const names = [...groups.keys()].sort(collator.compare);
  return { names, rows: names.map((n) => groups.get(n) as number[]) };
}

/**
 * Loads CSV files (one, or one per institution), agrees the data dictionary from each institution's own summary
 * (never the pooled rows), and splits: with a natural partition each institution keeps `testFraction` of its own
 * rows (seeded, per class) as its test rows; otherwise a global test set and `scheme` over the rest, as for images.
 * @example prepareTabular(['a.csv', 'b.csv'], 'outcome', { kind: 'files' }, { kind: 'iid' }, 2, 0, 0.2, {})
 */
export function prepareTabular(
  paths: readonly string[],
  label: string,
  naturalPartition: NaturalPartition | undefined,
  scheme: PartitionScheme,
  institutions: number,
  seed: number,
  testFraction: number,
  opts: TabularOptions,
  labelChoice: LabelChoice = {},
): TabularData {
  const natural: NaturalPartition | undefined = paths.length > 1 ? (naturalPartition ?? { kind: 'files' }) : naturalPartition;
  if (paths.length > 1 && natural?.kind === 'column')
    throw new Error('--partition column:NAME takes one CSV file; several files are one institution each already');
  const { tables, kept, labels } = labelsOf(
    paths.map((p) => readTable(p, opts.missing)),
    label,
    labelChoice,
  );
  const { classes, y, labelColumns } = labels;
  const partitionColumn = natural?.kind === 'column' ? natural.column : undefined;
  // Every label column stays out of the features (several for multilabel or regression).
  const kinds = kindsOf(
    tables,
    labelColumns[0] as string,
    { ...opts, ignore: [...(opts.ignore ?? []), ...labelColumns.slice(1)] },
    partitionColumn,
  );
  // Global row index of (file, row): files one after the other.
  const offsets = tables.map((_, f) => tables.slice(0, f).reduce((n, t) => n + t.rows.length, 0));
  const n = y.length;

  // Each institution's rows, as (file, local rows).
  let groups: { file: number; rows: number[]; name?: string }[];
  if (natural?.kind === 'files') groups = tables.map((t, f) => ({ file: f, rows: t.rows.map((_, i) => i), name: paths[f] as string }));
  else if (natural?.kind === 'column') {
    const g = groupBy(tables[0] as CsvTable, natural.column);
    groups = g.rows.map((rows, i) => ({ file: 0, rows, name: `${natural.column}=${g.names[i]}` }));
  } else groups = [];

  let sites: number[][];
  let test: number[];
  let institutionTests: number[][] | undefined;
  let summaryRows: { file: number; rows: number[] }[];
  if (natural) {
    const splits = groups.map((g) => {
      const global = g.rows.map((r) => (offsets[g.file] as number) + r);
      const { train, test: held } = splitTrainTest({ y: Int32Array.from(global, (r) => y[r] as number), classes }, testFraction, seed);
      return { train: train.map((i) => global[i] as number), test: held.map((i) => global[i] as number) };
    });
    sites = splits.map((s) => s.train);
    institutionTests = splits.map((s) => s.test);
    test = institutionTests.flat().sort((a, b) => a - b);
    summaryRows = groups;
    const empty = sites.findIndex((s) => s.length === 0);
    if (empty >= 0)
      throw new Error(
        `institution ${groups[empty]?.name} has no training rows (${groups[empty]?.rows.length} rows in all): give it more rows or leave it out`,
      );
  } else {
    const split = splitTrainTest({ y, classes }, testFraction, seed);
    test = split.test;
    sites = partition(
      split.train.map((r) => y[r] as number),
      institutions,
      scheme,
      seed,
    ).map((rows) => rows.map((j) => split.train[j] as number));
    if (sites.some((rows) => rows.length === 0))
      throw new Error(
        `the partition left an institution without rows: use fewer institutions than the ${split.train.length} training rows allow`,
      );
    summaryRows = sites.map((rows) => ({ file: 0, rows }));
  }
  // The dictionary: from each institution's own column summary (counts only), as a real deployment agrees it.
  const summaries = summaryRows.map((g) =>
    summarizeTable(selectTableRows(tables[g.file] as CsvTable, g.rows), kinds, { label: labelColumns[0] as string }),
  );
  const names = natural ? groups.map((g) => g.name as string) : sites.map((_, i) => `institution-${i + 1}`);
  const { dictionary, dropped } = dictionaryFromSummaries(summaries, { minCategoryCount: opts.minCategoryCount ?? 5, names });
  const preprocessing: Preprocessing = { columns: dictionary.columns };
  // Rows an institution holds but no summary counted (a global test row) may hold an unseen category: it counts as `other`.
  const parts = tables.map((t) => transformTable(preprocessing, t));
  const features = featureNames(preprocessing.columns);
  const width = features.length;
  const x = new Float32Array(n * width);
  parts.forEach((p, f) => x.set(p, (offsets[f] as number) * width));
  const all: Dataset = { x, y, n, inputShape: [features.length], classes, features };
  if (labels.targets) all.targets = labels.targets;
  if (labels.task !== 'classification') all.task = labels.task;
  const fileOf = (row: number): number => offsets.reduce((found, o, f) => (o <= row ? f : found), 0);
  const agents = sites.map((rows) => {
    const file = fileOf(rows[0] as number);
    return {
      ref: { kind: 'csv' as const, path: resolve(paths[file] as string), label, ...(opts.missing ? { missing: opts.missing } : {}) },
      rows: rows.map((r) => (kept[file] as number[])[r - (offsets[file] as number)] as number),
    };
  });
  const train = sites.flat().sort((a, b) => a - b);
  return {
    all,
    preprocessing,
    features,
    train,
    test,
    sites,
    ...(institutionTests ? { institutionTests, institutionNames: names } : {}),
    agents,
    dropped,
  };
}
