/** The data dictionary on disk (format cohort-data-dictionary/v1) and the model spec it implies, for both sides' commands. */
import { readFileSync } from 'node:fs';
import { DataDictionarySchema, featureNames, type DataDictionary, type ModelSpec } from '../index.js';

/** Reads and validates a JSON file with a schema, naming the file and the first problems. */
export function readJson<T>(
  path: string,
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  what: string,
): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new Error(`${path}: cannot read the ${what}: ${(cause as Error).message}`, { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${path} is not a valid ${what}: ${parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.map(String).join('.') || '(top)'}: ${i.message}`)
        .join('; ')}`,
    );
  return parsed.data;
}

/**
 * Reads a data dictionary file (format cohort-data-dictionary/v1).
 * @example const dictionary = readDictionary('dictionary.json')
 */
export function readDictionary(path: string): DataDictionary {
  return readJson(path, DataDictionarySchema, 'data dictionary (format cohort-data-dictionary/v1)');
}

/**
 * The model spec a dictionary implies: the features its columns give, the classes, and the preprocessing (the
 * imputation values are pooled from the sites at the first round).
 * @example specFromDictionary(dictionary, 'mlp', ['no', 'yes']).features
 */
export function specFromDictionary(dictionary: DataDictionary, arch: ModelSpec['arch'], classes: string[]): ModelSpec {
  if (arch === 'cnn') throw new Error('--model cnn needs image data; use logreg or mlp with --dictionary');
  if (classes.length < 2) throw new Error('--dictionary needs --classes (the label values, comma-separated, at least two)');
  const features = featureNames(dictionary.columns);
  return {
    arch,
    inputShape: [features.length],
    classes,
    features,
    ...(arch === 'mlp' ? { hidden: [200, 200] } : {}),
    preprocessing: { columns: dictionary.columns },
  };
}
