/** Messy CSV: the dictionary agreed from two sites' summaries, pooled imputation and one-hot checked by hand, one transform everywhere. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CohortError,
  ModelSpecSchema,
  dictionaryFromSummaries,
  featureNames,
  poolTabularSpec,
  type ModelSpec,
} from '../../../protocol/index.js';
import { featureStats, imputeMissing, normalize, readTable, summarizeCsv } from '../../../node-agent/data/index.js';
import { csvSource } from '../../../node-agent/data-source.js';
import { rowsToInput } from '../../../coordinator/models/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-tabular-'));
function csvFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// Site A: ages 40 and 60 (one missing), wards x, y, y. Site B: age 70 (one "?"), wards x, (empty), z.
// Pooled mean age over non-missing values: (40 + 60 + 70) / 3 = 56.666… (the mean of the site means would be 60).
const siteA = csvFile('a.csv', 'id,age,ward,y\n1,40,x,no\n2,NA,y,yes\n3,60,y,no\n');
const siteB = csvFile('b.csv', 'id,age,ward,y\n4,70,x,yes\n5,?,,no\n6,N/A,z,yes\n');
const choice = { label: 'y', ignore: ['id'] };

/** The federation's spec as simulate and coordinator start build it: dictionary from the summaries, then pooled stats. */
function agreedSpec(minCategoryCount: number): ModelSpec {
  const { dictionary } = dictionaryFromSummaries([summarizeCsv(siteA, choice), summarizeCsv(siteB, choice)], { minCategoryCount });
  const features = featureNames(dictionary.columns);
  return ModelSpecSchema.parse({
    arch: 'logreg',
    inputShape: [features.length],
    classes: ['no', 'yes'],
    features,
    preprocessing: { columns: dictionary.columns },
  });
}

describe('tabular preprocessing', () => {
  it('imputes with the pooled mean of non-missing values and one-hot encodes over the agreed vocabulary, as computed by hand', () => {
    const spec = agreedSpec(2); // x: 2 and y: 2 are kept; z: 1 falls into "other"
    const a = csvSource(siteA, 'y').load(spec);
    const b = csvSource(siteB, 'y').load(spec);

    const pooled = poolTabularSpec(spec, [featureStats(a), featureStats(b)]);
    const filledA = imputeMissing(a, pooled.preprocessing!);
    const filledB = imputeMissing(b, pooled.preprocessing!);

    expect(spec.features).toEqual(['age', 'age (missing)', 'ward=x', 'ward=y', 'ward=other', 'ward (missing)']);
    expect(pooled.preprocessing!.impute!.age).toBeCloseTo(170 / 3, 10);
    const m = Math.fround(170 / 3);
    // age, age (missing), ward=x, ward=y, ward=other, ward (missing)
    expect(Array.from(filledA.x)).toEqual([40, 0, 1, 0, 0, 0, m, 1, 0, 1, 0, 0, 60, 0, 0, 1, 0, 0]);
    expect(Array.from(filledB.x)).toEqual([70, 0, 1, 0, 0, 0, m, 1, 0, 0, 0, 1, m, 1, 0, 0, 1, 0]);
    // z-score of age over the three observed values: mean 170/3, population std sqrt(((40-m)^2+(60-m)^2+(70-m)^2)/3).
    const sd = Math.sqrt(((40 - 170 / 3) ** 2 + (60 - 170 / 3) ** 2 + (70 - 170 / 3) ** 2) / 3);
    expect(pooled.normalization!.mean[0]).toBeCloseTo(170 / 3, 10);
    expect(pooled.normalization!.std[0]).toBeCloseTo(sd, 10);
  });

  it("gives the coordinator's predict the same model input as training, from the raw columns", () => {
    const spec = agreedSpec(2);
    const a = csvSource(siteA, 'y').load(spec);
    const b = csvSource(siteB, 'y').load(spec);
    const pooled = poolTabularSpec(spec, [featureStats(a), featureStats(b)]);
    const training = normalize(imputeMissing(b, pooled.preprocessing!), pooled.normalization!);

    const served = rowsToInput(pooled, [{ age: 70, ward: 'x' }, { age: null, ward: null }, { ward: 'z' }]);

    expect(Array.from(served)).toEqual(Array.from(training.x));
  });

  it('puts rare categories into "other", drops entirely missing and constant columns with the reason', () => {
    const c = csvFile('c.csv', 'age,ward,unit,empty,y\n1,x,u,,a\n2,x,u,NA,b\n3,q,u,,a\n');
    const d = csvFile('d.csv', 'age,ward,unit,empty,y\n4,x,u,,b\n5,x,u,,a\n');

    const { dictionary, dropped } = dictionaryFromSummaries([summarizeCsv(c, { label: 'y' }), summarizeCsv(d, { label: 'y' })], {
      minCategoryCount: 2,
    });

    expect(dictionary.columns).toEqual([
      { name: 'age', type: 'number', missing: false },
      { name: 'ward', type: 'category', categories: ['x'], other: ['q'], missing: false },
    ]);
    expect(dropped).toEqual([
      { column: 'unit', reason: 'constant (one category in every row): it cannot inform the model' },
      { column: 'empty', reason: 'entirely missing at every site' },
    ]);
  });

  it('suppresses counts below --min-cell, and then accepts unlisted categories as "other"', () => {
    const e = csvFile('e.csv', 'ward,y\nx,a\nx,b\nx,a\nrare,b\n');

    const summary = summarizeCsv(e, { label: 'y' }, { minCell: 2 });
    const { dictionary } = dictionaryFromSummaries([summary], { minCategoryCount: 1 });

    expect(summary.columns).toEqual([{ name: 'ward', type: 'category', counts: { x: 3 }, missing: 0, suppressed: 1 }]);
    expect(dictionary.columns[0]).toMatchObject({ categories: ['x'], unlisted: 'other' });
  });

  it('refuses sites that disagree on a column type, naming the column and each site', () => {
    const f = csvFile('f.csv', 'code,y\n1,a\n2,b\n');
    const g = csvFile('g.csv', 'code,y\nA1,a\n2,b\n');

    expect(() =>
      dictionaryFromSummaries([summarizeCsv(f, { label: 'y' }), summarizeCsv(g, { label: 'y' })], {
        minCategoryCount: 1,
        names: ['f.json', 'g.json'],
      }),
    ).toThrow(/column "code" is numeric at some sites and text at others \(f.json: number, g.json: category\)/);
  });

  it('reads NA, N/A, ?, NaN and empty cells as missing, and other tokens when told', () => {
    const t = readTable(csvFile('h.csv', 'a,b\nNA,n/a\n?,NaN\n,-99\n'), ['', 'NA', 'N/A', '?', 'NaN']);
    const custom = readTable(csvFile('i.csv', 'a\n-99\n1\n'), ['', '-99']);

    expect(t.rows).toEqual([
      [null, null],
      [null, null],
      [null, '-99'],
    ]);
    expect(custom.rows).toEqual([[null], ['1']]);
  });
});

describe('the data dictionary check', () => {
  it("lists every problem of a site's file in one DATA_DICTIONARY_MISMATCH message", () => {
    const spec = ModelSpecSchema.parse({
      arch: 'logreg',
      inputShape: [5],
      classes: ['no', 'yes'],
      features: ['age', 'sex=F', 'sex=M', 'sex=other', 'weight'],
      preprocessing: {
        columns: [
          { name: 'age', type: 'number', unit: 'years', min: 0, max: 120, missing: false },
          { name: 'sex', type: 'category', categories: ['F', 'M'], missing: false },
          { name: 'weight', type: 'number', missing: false },
        ],
      },
    });
    const bad = csvFile('bad.csv', 'age,sex,y\n34,F,no\n130,M,yes\n-1,X,no\n,F,no\nold,Q,yes\n');

    let error: unknown;
    try {
      csvSource(bad, 'y').load(spec);
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(CohortError);
    const { code, message } = error as CohortError;
    expect(code).toBe('DATA_DICTIONARY_MISMATCH');
    expect(message).toMatch(/bad\.csv does not fit the study's data dictionary \(6 problems\)/);
    expect(message).toContain('column "weight" (number) is missing');
    expect(message).toContain('column "age": above the maximum 120 years: 1 cell: "130" (1) (first at line 3)');
    expect(message).toContain('column "age": below the minimum 0 years: 1 cell: "-1" (1) (first at line 4)');
    expect(message).toContain('column "age": missing cells, which the dictionary does not allow: 1 cell (first at line 5)');
    expect(message).toContain('column "age": not a number (the dictionary says number): 1 cell: "old" (1) (first at line 6)');
    expect(message).toContain('column "sex": categories the dictionary does not list: 2 cells: "X" (1), "Q" (1) (first at line 4)');
  });
});
