/** A study's data dictionary (columns, types, units, ranges, categories) and the model features it implies. */
import { z } from 'zod';

const name = z.string().min(1).max(200);

/** A numeric column: its unit, the range its values must lie in, and whether a cell may be missing. */
export const NumberColumnSchema = z
  .object({
    name,
    type: z.literal('number'),
    unit: z.string().max(100).optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    /** Missing cells allowed; the model then gets a `NAME (missing)` indicator feature. */
    missing: z.boolean(),
  })
  .strict();

/**
 * A categorical column. Each of `categories` gets a one-hot feature `NAME=VALUE`; the values of `other` (rare ones)
 * and, when `unlisted` is 'other', any value not listed, share the feature `NAME=other`; with `unlisted` 'refuse'
 * (the default) an unlisted value is a dictionary mismatch.
 */
export const CategoryColumnSchema = z
  .object({
    name,
    type: z.literal('category'),
    unit: z.string().max(100).optional(),
    categories: z.array(z.string().min(1).max(200)).max(10_000),
    other: z.array(z.string().min(1).max(200)).max(100_000).optional(),
    unlisted: z.enum(['other', 'refuse']).optional(),
    missing: z.boolean(),
  })
  .strict();

export const DictionaryColumnSchema = z.discriminatedUnion('type', [NumberColumnSchema, CategoryColumnSchema]);
export type DictionaryColumn = z.infer<typeof DictionaryColumnSchema>;
export type NumberColumn = z.infer<typeof NumberColumnSchema>;
export type CategoryColumn = z.infer<typeof CategoryColumnSchema>;

/** Unique column names; a category listed once, in `categories` or `other`; min <= max. */
function checkColumns(columns: readonly DictionaryColumn[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) ctx.addIssue({ code: 'custom', message: `column "${c.name}" is listed twice` });
    seen.add(c.name);
    if (c.type === 'number' && c.min !== undefined && c.max !== undefined && c.min > c.max) {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": min ${c.min} is above max ${c.max}` });
    }
    if (c.type === 'category') {
      const values = [...c.categories, ...(c.other ?? [])];
      const dup = values.find((v, i) => values.indexOf(v) !== i);
      if (dup !== undefined) ctx.addIssue({ code: 'custom', message: `column "${c.name}": category "${dup}" is listed twice` });
      if (values.includes('other'))
        ctx.addIssue({ code: 'custom', message: `column "${c.name}": "other" is reserved for the rare and unlisted categories` });
    }
  }
}

/** The columns a model's preprocessing reads (the dictionary's), and the imputation values pooled at round start. */
export const PreprocessingSchema = z
  .object({
    columns: z.array(DictionaryColumnSchema).min(1).max(100_000),
    /** Per numeric column with missing cells allowed: the federation-pooled mean of its non-missing values. */
    impute: z.record(z.string(), z.number().finite()).optional(),
  })
  .strict()
  .superRefine((p, ctx) => checkColumns(p.columns, ctx));
export type Preprocessing = z.infer<typeof PreprocessingSchema>;

/** The file `cohort data dictionary` writes and `coordinator start --dictionary` reads. */
export const DataDictionarySchema = z
  .object({
    format: z.literal('cohort-data-dictionary/v1'),
    /** The label column (not a feature). */
    label: z.string().min(1).max(200).optional(),
    columns: z.array(DictionaryColumnSchema).min(1).max(100_000),
  })
  .strict()
  .superRefine((d, ctx) => checkColumns(d.columns, ctx));
export type DataDictionary = z.infer<typeof DataDictionarySchema>;

/** What one model feature reads from its column. */
export type FeatureSource =
  { column: string; kind: 'value' } | { column: string; kind: 'missing' } | { column: string; kind: 'category'; category: string };

/** The suffix of a missing-indicator feature. */
export const MISSING_SUFFIX = ' (missing)';
/** The category every rare or unlisted value of a categorical column falls into. */
export const OTHER = 'other';

/**
 * The model's input features, in order: a numeric column gives `NAME` (and `NAME (missing)` when missing is
 * allowed); a categorical column gives `NAME=VALUE` per category, `NAME=other`, and `NAME (missing)` when allowed.
 * @example featureSources([{ name: 'ward', type: 'category', categories: ['A'], missing: true }]).length // 3
 */
export function featureSources(columns: readonly DictionaryColumn[]): FeatureSource[] {
  return columns.flatMap((c): FeatureSource[] => {
    const missing: FeatureSource[] = c.missing ? [{ column: c.name, kind: 'missing' }] : [];
    if (c.type === 'number') return [{ column: c.name, kind: 'value' }, ...missing];
    return [...[...c.categories, OTHER].map((category) => ({ column: c.name, kind: 'category' as const, category })), ...missing];
  });
}

/**
 * The names of the model's input features (what `spec.features` lists).
 * @example featureNames([{ name: 'age', type: 'number', missing: true }]) // ['age', 'age (missing)']
 */
export function featureNames(columns: readonly DictionaryColumn[]): string[] {
  return featureSources(columns).map((f) =>
    f.kind === 'value' ? f.column : f.kind === 'missing' ? `${f.column}${MISSING_SUFFIX}` : `${f.column}=${f.category}`,
  );
}
