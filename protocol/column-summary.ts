/**
 * A site's column summary (counts only, never a row) and the data dictionary the sites agree from their summaries:
 * column types, which columns may be missing, and the category vocabulary (rare categories fall into "other").
 */
import { z } from 'zod';
import { DataDictionarySchema, type DataDictionary, type DictionaryColumn } from './data-dictionary.js';
import { cellNumber, type RawTable } from './tabular-transform.js';

const count = z.number().int().nonnegative();

export const ColumnSummarySchema = z.discriminatedUnion('type', [
  z
    .object({
      name: z.string().min(1),
      type: z.literal('number'),
      count,
      missing: count,
      mean: z.number().finite().optional(),
      m2: z.number().finite().nonnegative().optional(),
    })
    .strict(),
  z
    .object({
      name: z.string().min(1),
      type: z.literal('category'),
      counts: z.record(z.string(), count),
      missing: count,
      suppressed: count.optional(),
    })
    .strict(),
]);
export type ColumnSummary = z.infer<typeof ColumnSummarySchema>;

/** What `cohort data summarize` prints at a site. */
export const DataSummarySchema = z
  .object({
    format: z.literal('cohort-data-summary/v1'),
    rows: count,
    label: z.string().min(1).optional(),
    /** Counts below this were suppressed (categories folded into `suppressed`, numeric means left out). */
    minCell: count.optional(),
    columns: z.array(ColumnSummarySchema),
  })
  .strict();
export type DataSummary = z.infer<typeof DataSummarySchema>;

/** A column's kind: number when every non-missing cell is a finite number, else category. */
export type ColumnKind = 'number' | 'category';

/**
 * The kind of each column of a table (a column with no value at all counts as number).
 * @example inferKinds(table, ['id']) // { age: 'number', ward: 'category' }
 */
export function inferKinds(table: RawTable, skip: readonly string[] = []): Record<string, ColumnKind> {
  const out: Record<string, ColumnKind> = {};
  table.header.forEach((name, i) => {
    if (skip.includes(name)) return;
    out[name] = table.rows.every((row) => (row[i] ?? null) === null || !Number.isNaN(cellNumber(row[i] ?? null))) ? 'number' : 'category';
  });
  return out;
}

/**
 * Counts of the given columns of a table: per numeric column the non-missing count, mean and m2 (Welford) and the
 * missing count; per categorical column each category's count and the missing count. Counts below `minCell`
 * are suppressed: such categories are folded into `suppressed`, and a numeric mean of fewer values left out.
 * @example summarizeTable(table, { age: 'number', ward: 'category' }, { label: 'outcome', minCell: 5 })
 */
export function summarizeTable(
  table: RawTable,
  kinds: Record<string, ColumnKind>,
  opts: { label?: string; minCell?: number } = {},
): DataSummary {
  const minCell = opts.minCell ?? 0;
  const columns = Object.entries(kinds).map(([name, type]): ColumnSummary => {
    const i = table.header.indexOf(name);
    if (i < 0) throw new RangeError(`column "${name}" is missing; columns are ${table.header.join(', ')}`);
    let missing = 0;
    if (type === 'number') {
      let [n, mean, m2] = [0, 0, 0];
      for (const row of table.rows) {
        const cell = row[i] ?? null;
        if (cell === null) {
          missing++;
          continue;
        }
        const v = cellNumber(cell);
        if (Number.isNaN(v)) throw new RangeError(`column "${name}" is numeric but holds ${JSON.stringify(cell)}`);
        n++;
        const delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
      }
      return { name, type, count: n, missing, ...(n >= Math.max(1, minCell) ? { mean, m2 } : {}) };
    }
    const counts: Record<string, number> = {};
    for (const row of table.rows) {
      const cell = row[i] ?? null;
      if (cell === null) missing++;
      else counts[String(cell)] = (counts[String(cell)] ?? 0) + 1;
    }
    let suppressed = 0;
    for (const [k, v] of Object.entries(counts)) {
      if (v < minCell) {
        suppressed += v;
        delete counts[k];
      }
    }
    return { name, type, counts, missing, ...(suppressed > 0 ? { suppressed } : {}) };
  });
  return {
    format: 'cohort-data-summary/v1',
    rows: table.rows.length,
    ...(opts.label ? { label: opts.label } : {}),
    ...(minCell > 0 ? { minCell } : {}),
    columns,
  };
}

/** A column left out of the dictionary, and why. */
export interface DroppedColumn {
  column: string;
  reason: string;
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * The data dictionary the sites' summaries imply: every column all sites hold, its type (the sites must agree),
 * missing allowed where any site has a missing cell, and for categorical columns the categories seen at least
 * `minCategoryCount` times in the pooled counts (rarer ones listed under `other`; where a site suppressed small
 * counts, unlisted values are accepted as `other`). Entirely missing and constant columns are dropped, with the reason.
 * Throws naming the column when the sites disagree on a column's type or one site lacks it.
 * @example const { dictionary, dropped } = dictionaryFromSummaries([siteA, siteB], { minCategoryCount: 5 })
 */
export function dictionaryFromSummaries(
  summaries: readonly DataSummary[],
  opts: { minCategoryCount: number; names?: readonly string[] },
): { dictionary: DataDictionary; dropped: DroppedColumn[] } {
  if (summaries.length === 0) throw new RangeError('no site summaries to build a dictionary from');
  const siteName = (s: number): string => opts.names?.[s] ?? `summary ${s + 1}`;
  const label = summaries[0]?.label;
  const order = [...new Set(summaries.flatMap((s) => s.columns.map((c) => c.name)))];
  const columns: DictionaryColumn[] = [];
  const dropped: DroppedColumn[] = [];
  for (const name of order) {
    const found = summaries.map((s) => s.columns.find((c) => c.name === name));
    const lacking = found.findIndex((c) => c === undefined);
    if (lacking >= 0)
      throw new RangeError(
        `column "${name}" is missing from ${siteName(lacking)}; leave it out at every site (--ignore-columns ${name}) or add it there`,
      );
    const list = found as ColumnSummary[];
    const types = new Set(list.map((c) => c.type));
    if (types.size > 1) {
      const which = list.map((c, s) => `${siteName(s)}: ${c.type}`).join(', ');
      throw new RangeError(
        `column "${name}" is numeric at some sites and text at others (${which}); summarize it as categorical at every site (--categorical ${name}) or fix the text cells`,
      );
    }
    const missing = list.reduce((n, c) => n + c.missing, 0);
    if (list[0]?.type === 'number') {
      const nums = list as Extract<ColumnSummary, { type: 'number' }>[];
      const n = nums.reduce((a, c) => a + c.count, 0);
      if (n === 0) {
        dropped.push({ column: name, reason: 'entirely missing at every site' });
        continue;
      }
      if (missing === 0 && isConstant(nums)) {
        dropped.push({ column: name, reason: 'constant (the same value in every row): it cannot inform the model' });
        continue;
      }
      columns.push({ name, type: 'number', missing: missing > 0 });
      continue;
    }
    const cats = list as Extract<ColumnSummary, { type: 'category' }>[];
    const pooled = new Map<string, number>();
    for (const c of cats) for (const [k, v] of Object.entries(c.counts)) pooled.set(k, (pooled.get(k) ?? 0) + v);
    const suppressed = cats.reduce((a, c) => a + (c.suppressed ?? 0), 0);
    if (pooled.size === 0 && suppressed === 0) {
      dropped.push({ column: name, reason: 'entirely missing at every site' });
      continue;
    }
    if (pooled.size === 1 && suppressed === 0 && missing === 0) {
      dropped.push({ column: name, reason: 'constant (one category in every row): it cannot inform the model' });
      continue;
    }
    const values = [...pooled.keys()].sort(collator.compare);
    const frequent = values.filter((v) => (pooled.get(v) as number) >= opts.minCategoryCount && v !== 'other');
    const rare = values.filter((v) => !frequent.includes(v) && v !== 'other');
    const unlisted = suppressed > 0 || pooled.has('other');
    columns.push({
      name,
      type: 'category',
      categories: frequent,
      ...(rare.length > 0 ? { other: rare } : {}),
      ...(unlisted ? { unlisted: 'other' as const } : {}),
      missing: missing > 0,
    });
  }
  if (columns.length === 0) throw new RangeError(`no usable feature column: ${dropped.map((d) => `"${d.column}" ${d.reason}`).join('; ')}`);
  const dictionary = DataDictionarySchema.parse({ format: 'cohort-data-dictionary/v1', ...(label ? { label } : {}), columns });
  return { dictionary, dropped };
}

/** Whether pooled numeric summaries have zero spread (every site's m2 0 and the same mean); unknown means count as not constant. */
function isConstant(list: readonly Extract<ColumnSummary, { type: 'number' }>[]): boolean {
  const withValues = list.filter((c) => c.count > 0);
  if (withValues.some((c) => c.mean === undefined || c.m2 === undefined)) return false;
  return withValues.every((c) => c.m2 === 0 && c.mean === withValues[0]?.mean);
}
