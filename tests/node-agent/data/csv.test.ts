/** The CSV loader: header row, numeric features, a named label column, and errors that point at the cell. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../../node-agent/data/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-csv-'));
let files = 0;
function csvFile(text: string): string {
  const path = join(dir, `f${files++}.csv`);
  writeFileSync(path, text);
  return path;
}

describe('loadCsv', () => {
  it('reads a label column that is not last, features in file order, classes sorted numerically', () => {
    const path = csvFile('age,grade,bmi\n50,10,22.5\n61,2,30\n45,10,19.25\n70,9,27\n');

    const ds = loadCsv(path, { label: 'grade' });

    expect(ds.features).toEqual(['age', 'bmi']);
    expect(ds.inputShape).toEqual([2]);
    expect(ds.n).toBe(4);
    expect(ds.classes).toEqual(['2', '9', '10']);
    expect(Array.from(ds.x)).toEqual([50, 22.5, 61, 30, 45, 19.25, 70, 27]);
    expect(Array.from(ds.y)).toEqual([2, 0, 2, 1]);
  });

  it('takes the features and classes it is given, in their order', () => {
    const path = csvFile('a,b,label,c\n1,2,yes,3\n4,5,no,6\n');

    const ds = loadCsv(path, { label: 'label', features: ['c', 'a'], classes: ['yes', 'no', 'maybe'] });

    expect(Array.from(ds.x)).toEqual([3, 1, 6, 4]);
    expect(Array.from(ds.y)).toEqual([0, 1]);
    expect(ds.classes).toEqual(['yes', 'no', 'maybe']);
  });

  it('names the line, column and value of a non-numeric feature', () => {
    const path = csvFile('x,y,label\n1,2,a\n3,n/a,b\n');

    expect(() => loadCsv(path, { label: 'label' })).toThrow(/line 3 \(data row 2\), column "y": "n\/a" is not a finite number/);
  });

  it('rejects an empty feature cell and an infinite value', () => {
    const empty = csvFile('x,label\n,a\n');
    const infinite = csvFile('x,label\nInfinity,a\n');

    expect(() => loadCsv(empty, { label: 'label' })).toThrow(/column "x": "" is not a finite number/);
    expect(() => loadCsv(infinite, { label: 'label' })).toThrow(/"Infinity" is not a finite number/);
  });

  it('names a label that is not among the given classes', () => {
    const path = csvFile('x,label\n1,cat\n2,dog\n');

    expect(() => loadCsv(path, { label: 'label', classes: ['cat', 'bird'] })).toThrow(
      /line 3: label "dog" is not one of the classes cat, bird/,
    );
  });

  it('names a missing label or feature column', () => {
    const path = csvFile('x,y\n1,2\n');

    expect(() => loadCsv(path, { label: 'outcome' })).toThrow(/label column "outcome" is missing; columns are x, y/);
    expect(() => loadCsv(path, { label: 'y', features: ['x', 'z'] })).toThrow(/feature column "z" is missing/);
  });

  it('rejects an empty file and a header without rows', () => {
    expect(() => loadCsv(csvFile(''), { label: 'y' })).toThrow(/empty; a header row is required/);
    expect(() => loadCsv(csvFile('x,y\n'), { label: 'y' })).toThrow(/no data rows/);
  });

  it('reports a row with the wrong number of cells', () => {
    const path = csvFile('x,y,label\n1,2,a\n3,b\n');

    expect(() => loadCsv(path, { label: 'label' })).toThrow(/cannot parse CSV/);
  });
});
