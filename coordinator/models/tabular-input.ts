/** Prediction rows of raw columns (numbers, text categories, missing cells) -> the model's features, by the spec's preprocessing. */
import { CohortError, dictionaryProblems, transformTable, type Cell, type Preprocessing } from '../../protocol/index.js';

/** The largest magnitude a raw numeric value may have (a float32 input overflows at 3.4e38 and is meaningless long before). */
const MAX_MAGNITUDE = 1e12;

/**
 * The feature matrix (before z-scoring) of rows keyed by the dictionary's column names: a number or numeric text for
 * a numeric column, the category's text for a categorical one, null or an absent key for a missing cell. Every
 * problem (unknown column, a value the dictionary does not allow) is named in one BAD_REQUEST.
 * @example tabularInput(spec.preprocessing, [{ age: 54, ward: 'B', bmi: null }])
 */
export function tabularInput(pre: Preprocessing, rows: readonly Record<string, unknown>[]): Float32Array {
  const header = pre.columns.map((c) => c.name);
  const problems: string[] = [];
  const cells = rows.map((row, r) => {
    const unknown = Object.keys(row).filter((k) => !header.includes(k));
    if (unknown.length > 0)
      problems.push(`rows[${r}]: unknown column(s) ${unknown.join(', ')}; the model's columns are ${header.join(', ')}`);
    return header.map((name): Cell => {
      const v = row[name];
      if (v === undefined || v === null) return null;
      if (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_MAGNITUDE) return v;
      if (typeof v === 'string') return v;
      problems.push(
        `rows[${r}], column "${name}": ${JSON.stringify(v)} is neither a finite number (at most ${MAX_MAGNITUDE} in magnitude), a text category nor null`,
      );
      return null;
    });
  });
  const table = { header, rows: cells, where: (i: number) => `rows[${i}]` };
  if (problems.length === 0) problems.push(...dictionaryProblems(pre.columns, table));
  if (problems.length > 0) throw new CohortError('BAD_REQUEST', `the rows do not fit the model's data dictionary: ${problems.join('; ')}`);
  const x = transformTable(pre, table);
  if (x.some(Number.isNaN))
    throw new CohortError(
      'BAD_REQUEST',
      'this model version has no imputation values for missing cells (it was made before the first round); give every value or use a later version',
    );
  return x;
}
