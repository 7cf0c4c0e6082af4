/** A tabular federation with a data dictionary: sites whose CSVs fit train on pooled imputation; a site whose CSV does not refuses to join, naming every problem. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CohortError, featureNames, type DictionaryColumn, type ModelSpec } from '../../protocol/index.js';
import { csvSource } from '../../node-agent/index.js';
import { loadModel, predict } from '../../coordinator/models/index.js';
import { createModelRunner } from '../../node-agent/train/model-runner.js';
import { e2e, permissivePolicy } from './helpers.js';

const columns: DictionaryColumn[] = [
  { name: 'age', type: 'number', unit: 'years', min: 0, max: 120, missing: true },
  { name: 'ward', type: 'category', categories: ['a', 'b'], missing: true },
];
const features = featureNames(columns);
const spec: ModelSpec = { arch: 'logreg', inputShape: [features.length], classes: ['no', 'yes'], features, preprocessing: { columns } };

/** 60 rows: age (every 7th missing), ward a/b (every 11th empty), outcome = age above 50. */
function siteCsv(path: string, shift: number): void {
  const lines = ['record,age,ward,outcome'];
  for (let i = 0; i < 60; i++) {
    const age = 20 + ((i * 7 + shift) % 60);
    lines.push(`r${i},${i % 7 === 0 ? 'NA' : age},${i % 11 === 0 ? '' : i % 2 ? 'a' : 'b'},${age > 50 ? 'yes' : 'no'}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

e2e(
  'sites check their CSV against the study dictionary: fitting sites train with pooled imputation, a misfit refuses with every problem in one message',
  async ({ cohort }) => {
    const dir = cohort.tempDir();
    const [good1, good2, bad] = ['s1.csv', 's2.csv', 's3.csv'].map((f) => join(dir, f)) as [string, string, string];
    siteCsv(good1, 0);
    siteCsv(good2, 13);
    writeFileSync(bad, 'record,age,outcome\nr1,130,no\nr2,-4,yes\nr3,abc,no\n');
    const fed = await cohort.federation(3, {}, 'logreg', 300, permissivePolicy, {
      federation: {
        id: 'e2e',
        name: 'tabular dictionary',
        spec,
        policy: permissivePolicy,
        study: { title: 'Dictionary test', purpose: 'Check sites against the data dictionary.', dataCategories: ['tabular-records'] },
        rules: {
          rounds: 1,
          minParticipants: 2,
          joinGraceMs: 0,
          roundTimeoutMs: 60_000,
          train: { localEpochs: 2, batchSize: 10, learningRate: 0.1 },
        },
      },
    });
    expect(fed.coordinator.store.getFederation('e2e')!.manifest.data.dictionary).toEqual(columns);

    const misfit = cohort.agent(fed, 2, { data: csvSource(bad, 'outcome') });
    const refused = await misfit.ready.then(
      () => undefined,
      (err: unknown) => err,
    );
    cohort.agent(fed, 0, { data: csvSource(good1, 'outcome') });
    cohort.agent(fed, 1, { data: csvSource(good2, 'outcome') });
    await Promise.all(cohort.agents.slice(1).map((a) => a.done));

    expect(refused).toBeInstanceOf(CohortError);
    expect((refused as CohortError).code).toBe('DATA_DICTIONARY_MISMATCH');
    expect((refused as CohortError).message).toMatch(
      /s3\.csv does not fit the study's data dictionary \(4 problems\): 1\) column "ward" \(category\) is missing; .*above the maximum 120 years.*below the minimum 0 years.*not a number/,
    );
    const stored = fed.coordinator.store.getFederation('e2e')!.spec;
    // Pooled mean of the non-missing ages of both sites, computed from their rows here (the coordinator saw only counts and means).
    const ages = [0, 13].flatMap((shift) =>
      Array.from({ length: 60 }, (_, i) => (i % 7 === 0 ? [] : [20 + ((i * 7 + shift) % 60)])).flat(),
    );
    expect(stored.preprocessing?.impute?.age).toBeCloseTo(ages.reduce((a, b) => a + b, 0) / ages.length, 6);
    const record = fed.coordinator.store.getModel('e2e', 1)!;
    const model = loadModel(fed.dir, record.path, record.digest, stored);
    const runner = createModelRunner();
    cohort.defer(() => runner.close());
    const out = await predict(runner, model, [{ age: 80, ward: 'a' }, { age: null, ward: 'b' }, { age: 25 }]);
    expect(out.probabilities).toHaveLength(3);
    expect(out.probabilities[0]![1]).toBeGreaterThan(out.probabilities[2]![1]!);
    await expect(predict(runner, model, [{ age: 200, ward: 'unseen' }])).rejects.toThrow(
      /column "age": above the maximum 120 years.*column "ward": categories the dictionary does not list: 1 cell: "unseen"/,
    );
  },
);
