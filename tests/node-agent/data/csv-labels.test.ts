/** The CSV label side and task inference: binary positives, multilabel and regression columns, skipped rows, conflicts. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../../node-agent/data/index.js';
import { inferTask } from '../../../protocol/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-labels-'));
let files = 0;
function csvFile(text: string): string {
  const path = join(dir, `f${files++}.csv`);
  writeFileSync(path, text);
  return path;
}

describe('inferTask', () => {
  it('reads the label: several columns, non-integers or many values, two values, else classification', () => {
    expect(inferTask({ columns: 3, values: ['0', '1'] })).toBe('multilabel');
    expect(inferTask({ columns: 2, values: ['0.5', '3'] })).toBe('regression');
    expect(inferTask({ columns: 1, values: ['1.5', '2', '3'] })).toBe('regression');
    expect(inferTask({ columns: 1, values: Array.from({ length: 21 }, (_, i) => String(i)) })).toBe('regression');
    expect(inferTask({ columns: 1, values: Array.from({ length: 20 }, (_, i) => String(i)) })).toBe('classification');
    expect(inferTask({ columns: 1, values: ['no', 'yes'] })).toBe('binary');
    expect(inferTask({ columns: 1, values: ['a', 'b', 'c'] })).toBe('classification');
  });

  it('reads the model output, lets the model decide where both fit, and refuses a conflict naming both', () => {
    expect(inferTask(null, { units: 1, activation: 'sigmoid' })).toBe('binary');
    expect(inferTask(null, { units: 4, activation: 'sigmoid' })).toBe('multilabel');
    expect(inferTask(null, { units: 1, activation: 'linear' })).toBe('regression');
    expect(inferTask(null, { units: 3, activation: 'softmax' })).toBe('classification');
    expect(inferTask({ columns: 1, values: ['0', '1'] }, { units: 2, activation: 'softmax' })).toBe('classification');
    expect(inferTask({ columns: 1, values: ['0', '1', '2'] }, { units: 1, activation: 'linear' })).toBe('regression');
    expect(() => inferTask({ columns: 1, values: ['0.5', '1.25', '7'] }, { units: 1, activation: 'sigmoid' })).toThrow(
      /model's output \(1 sigmoid unit: a binary model\) does not fit the label \(1 column, 3 distinct values: 0.5, 1.25, 7: a regression label\)/,
    );
  });
});

describe('loadCsv labels by task', () => {
  it('infers binary from two values, the second sorted value positive, or --positive', () => {
    const path = csvFile('x,outcome\n1,yes\n2,no\n3,yes\n');

    const inferred = loadCsv(path, { label: 'outcome' });
    const flipped = loadCsv(path, { label: 'outcome', positive: 'no' });

    expect(inferred.task).toBe('binary');
    expect(inferred.classes).toEqual(['no', 'yes']);
    expect(Array.from(inferred.y)).toEqual([1, 0, 1]);
    expect(flipped.classes).toEqual(['yes', 'no']);
    expect(Array.from(flipped.y)).toEqual([0, 1, 0]);
  });

  it('reads several 0/1, yes/no or true/false columns as multilabel targets', () => {
    const path = csvFile('x,a,b\n1,1,no\n2,0,YES\n3,true,false\n');

    const ds = loadCsv(path, { label: 'a,b' });

    expect(ds.task).toBe('multilabel');
    expect(ds.classes).toEqual(['a', 'b']);
    expect(ds.features).toEqual(['x']);
    expect(Array.from(ds.targets ?? [])).toEqual([1, 0, 0, 1, 1, 0]);
  });

  it('reads numeric targets for regression and names a non-numeric one', () => {
    const ds = loadCsv(csvFile('x,y\n1,0.5\n2,1.75\n3,-2\n'), { label: 'y' });
    expect(ds.task).toBe('regression');
    expect(Array.from(ds.targets ?? [])).toEqual([0.5, 1.75, -2]);

    expect(() => loadCsv(csvFile('x,y\n1,0.5\n2,high\n'), { label: 'y', task: 'regression' })).toThrow(
      /line 3, column "y": target "high" is not a finite number/,
    );
    expect(() => loadCsv(csvFile('x,a,b\n1,1,2\n'), { label: 'a,b', task: 'multilabel' })).toThrow(
      /line 2, column "b": "2" is not a 0\/1 label/,
    );
  });

  it('skips rows with a missing label, counting them and naming their lines', () => {
    const warnings: string[] = [];
    const path = csvFile('x,y\n1,a\n2,\n3,NA\n4,b\n5,?\n6,c\n');

    const ds = loadCsv(path, { label: 'y', warn: (m) => warnings.push(m) });

    expect(ds.n).toBe(3);
    expect(Array.from(ds.x)).toEqual([1, 4, 6]);
    expect(warnings).toEqual([`${path}: skipped 3 rows with no label (lines 3, 4, 6)`]);
  });

  it('refuses a binary task over three values, and several label columns for a classification', () => {
    expect(() => loadCsv(csvFile('x,y\n1,a\n2,b\n3,c\n'), { label: 'y', task: 'binary' })).toThrow(
      /a binary label needs exactly two values; column "y" holds 3: a, b, c/,
    );
    expect(() => loadCsv(csvFile('x,a,b\n1,1,0\n'), { label: 'a,b', task: 'classification' })).toThrow(
      /several label columns \(a, b\) need --task multilabel or regression/,
    );
  });
});
