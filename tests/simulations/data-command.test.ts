/** `cohort data summarize` and `cohort data dictionary`, and the federation a dictionary sets up (spec, study, restart check). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelSpecSchema, architectureHash } from '../../protocol/index.js';
import { FederationSetupSchema } from '../../coordinator/config.js';
import { setupDifferences } from '../../coordinator/setup-check.js';
import type { Federation } from '../../coordinator/store/index.js';
import { readDictionary, specFromDictionary } from '../../protocol/cli/dictionary.js';
import { runCli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-data-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cohort data summarize | dictionary', () => {
  it('prints counts only (small ones suppressed), then the dictionary their pooled counts imply', async () => {
    writeFileSync(join(dir, 'a.csv'), 'mrn,age,ward,y\n1,50,icu,no\n2,NA,icu,yes\n3,61,ward,no\n4,70,ward,yes\n5,44,burns,no\n');
    writeFileSync(join(dir, 'b.csv'), 'mrn,age,ward,y\n6,58,icu,no\n7,?,ward,yes\n8,39,icu,no\n');

    const a = await runCli(['data', 'summarize', '--data', 'csv:a.csv', '--label', 'y', '--ignore-columns', 'mrn', '--min-cell', '2'], {
      cwd: dir,
    });
    const b = await runCli(['data', 'summarize', '--data', 'csv:b.csv', '--label', 'y', '--ignore-columns', 'mrn'], { cwd: dir });
    writeFileSync(join(dir, 'a.json'), a.stdout);
    writeFileSync(join(dir, 'b.json'), b.stdout);
    const dict = await runCli(['data', 'dictionary', 'a.json', 'b.json', '--min-category-count', '3'], { cwd: dir });

    expect(a.code).toBe(0);
    const summary = JSON.parse(a.stdout);
    expect(summary.columns).toEqual([
      { name: 'age', type: 'number', count: 4, missing: 1, mean: 56.25, m2: expect.closeTo(400.75, 6) },
      { name: 'ward', type: 'category', counts: { icu: 2, ward: 2 }, missing: 0, suppressed: 1 },
    ]);
    expect(a.stdout).not.toContain('burns');
    expect(dict.code).toBe(0);
    expect(JSON.parse(dict.stdout)).toEqual({
      format: 'cohort-data-dictionary/v1',
      label: 'y',
      columns: [
        { name: 'age', type: 'number', missing: true },
        { name: 'ward', type: 'category', categories: ['icu', 'ward'], unlisted: 'other', missing: false },
      ],
    });
  });

  it('refuses a summary file that is not one, naming the file', async () => {
    writeFileSync(join(dir, 'bad.json'), '{"format":"x"}');

    const res = await runCli(['data', 'dictionary', 'bad.json'], { cwd: dir });

    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/bad\.json is not a valid data summary/);
  });
});

describe('a federation set up from a dictionary', () => {
  const path = join(dir, 'dictionary.json');
  writeFileSync(
    path,
    JSON.stringify({
      format: 'cohort-data-dictionary/v1',
      columns: [
        { name: 'age', type: 'number', missing: true },
        { name: 'sex', type: 'category', categories: ['F', 'M'], missing: false },
      ],
    }),
  );
  const spec = specFromDictionary(readDictionary(path), 'mlp', ['no', 'yes']);
  const setup = FederationSetupSchema.parse({
    id: 'f',
    name: 'f',
    spec,
    study: { title: 'T', purpose: 'P', dataCategories: ['c'] },
    rules: { rounds: 1, minParticipants: 1, train: { localEpochs: 1, batchSize: 10, learningRate: 0.1 } },
  });

  it('has the features the columns give, and its architecture hash ignores the imputation values pooled later', () => {
    const pooled = { ...spec, preprocessing: { ...spec.preprocessing!, impute: { age: 51.5 } } };

    expect(ModelSpecSchema.parse(spec).features).toEqual(['age', 'age (missing)', 'sex=F', 'sex=M', 'sex=other']);
    expect(spec.inputShape).toEqual([5]);
    expect(architectureHash(pooled)).toBe(architectureHash(spec));
    expect(architectureHash({ ...spec, preprocessing: { columns: spec.preprocessing!.columns.slice(0, 1) } })).not.toBe(
      architectureHash(spec),
    );
  });

  it('restarts with the same flags although the stored spec gained pooled imputation values, and refuses a changed dictionary', () => {
    const stored = {
      name: 'f',
      spec: {
        ...setup.spec,
        normalization: { mean: [0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1] },
        preprocessing: { ...setup.spec.preprocessing!, impute: { age: 51.5 } },
      },
      config: JSON.parse(JSON.stringify(setup.rules)),
      manifest: { title: 'T', purpose: 'P', dataCategories: ['c'] },
    } as unknown as Federation;
    const changed = {
      ...setup,
      spec: {
        ...setup.spec,
        preprocessing: {
          columns: [{ name: 'age', type: 'number' as const, missing: false }, ...setup.spec.preprocessing!.columns.slice(1)],
        },
      },
    };

    expect(setupDifferences(stored, setup)).toEqual([]);
    expect(setupDifferences(stored, changed).map((d) => d.field)).toEqual(['spec.preprocessing']);
  });

  it('refuses --model cnn and a dictionary without classes', () => {
    expect(() => specFromDictionary(readDictionary(path), 'cnn', ['a', 'b'])).toThrow(/--model cnn needs image data/);
    expect(() => specFromDictionary(readDictionary(path), 'logreg', [])).toThrow(/--dictionary needs --classes/);
    expect(readFileSync(path, 'utf8')).toContain('cohort-data-dictionary/v1');
  });
});
