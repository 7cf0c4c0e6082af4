/** Natural partitions: one institution per value of a column or per file, each keeping its own test rows; and cohort simulate on a messy export. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { prepareData } from '../../simulations/simulate/dataset.js';
import { readTable } from '../../node-agent/data/index.js';
import { runCli } from './cli-helpers.js';
import { writeMessyCsv } from './messy-csv.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-natural-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const messy = join(dir, 'messy.csv');
writeMessyCsv(messy, 240, 3);
const iid = { kind: 'iid' as const };

describe('prepareData with a natural partition', () => {
  it('makes one institution per value of the partition column, which never becomes a feature, each testing on its own rows', () => {
    const table = readTable(messy);
    const siteOf = (row: number): string => String(table.rows[row]?.[1]);

    const data = prepareData({ kind: 'csv', path: messy, label: 'outcome' }, 'logreg', 7, iid, 0, 0.2, {
      natural: { kind: 'column', column: 'site' },
      tabular: { ignore: ['id'] },
    });

    expect(data.institutionNames).toEqual(['site=A', 'site=B', 'site=C']);
    expect(data.sites).toHaveLength(3);
    expect(data.spec.features?.some((f) => f.startsWith('site') || f.startsWith('id'))).toBe(false);
    expect(data.spec.preprocessing?.columns.map((c) => c.name)).toEqual(['age', 'bmi', 'ward', 'smoker']);
    ['A', 'B', 'C'].forEach((site, i) => {
      const own = [...data.sites[i]!, ...data.institutionTests![i]!];
      expect(own.every((row) => siteOf(row) === site)).toBe(true);
      expect(own.length).toBe(80);
      expect(data.institutionTests![i]!.length).toBe(16); // 20% of 80, per class
      expect(data.agents[i]!.rows).toEqual(data.sites[i]); // one file: the agent's rows are the global rows
    });
    expect([...data.test].sort((a, b) => a - b)).toEqual(data.institutionTests!.flat().sort((a, b) => a - b));
  });

  it('makes one institution per file, the agents reading their own file with rows numbered in it', () => {
    const lines = readFileSync(messy, 'utf8').trim().split('\n');
    const [a, b] = [join(dir, 'a.csv'), join(dir, 'b.csv')];
    writeFileSync(a, `${[lines[0], ...lines.slice(1, 101)].join('\n')}\n`);
    writeFileSync(b, `${[lines[0], ...lines.slice(101, 161)].join('\n')}\n`);

    const data = prepareData({ kind: 'csv', path: `${a},${b}`, label: 'outcome' }, 'mlp', 5, iid, 1, 0.2, {
      tabular: { ignore: ['id', 'site'] },
    });

    expect(data.institutionNames).toEqual([a, b]);
    expect(data.all.n).toBe(160);
    expect(data.sites[0]!.every((r) => r < 100)).toBe(true);
    expect(data.sites[1]!.every((r) => r >= 100)).toBe(true);
    expect(data.agents.map((s) => s.ref)).toEqual([
      { kind: 'csv', path: a, label: 'outcome' },
      { kind: 'csv', path: b, label: 'outcome' },
    ]);
    expect(data.agents[1]!.rows).toEqual(data.sites[1]!.map((r) => r - 100));
    expect(data.sites[0]!.length + data.institutionTests![0]!.length).toBe(100);
  });

  it('names a row whose partition value is missing', () => {
    const gap = join(dir, 'gap.csv');
    writeFileSync(gap, 'site,x,y\nA,1,a\n,2,b\nB,3,a\n');

    expect(() =>
      prepareData({ kind: 'csv', path: gap, label: 'y' }, 'logreg', 2, iid, 0, 0.2, { natural: { kind: 'column', column: 'site' } }),
    ).toThrow(/--partition column:site: .*gap\.csv line 3 has no value in "site", so it belongs to no institution/);
  });
});

describe('cohort simulate on a messy export split by a site column', () => {
  it('trains 2 rounds and reports each institution on its own test rows and the pooled result', async () => {
    const out = join(dir, 'run');

    const result = await runCli(
      [
        'simulate',
        '--dataset',
        `csv:${messy}`,
        '--label',
        'outcome',
        '--partition',
        'column:site',
        '--ignore-columns',
        'id',
        '--model',
        'logreg',
        '--rounds',
        '2',
        '--local-epochs',
        '3',
        '--lr',
        '0.1',
        '--out',
        out,
      ],
      { timeoutMs: 45_000 },
    );

    if (result.code !== 0) throw new Error(`simulate exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const per = summary.final.perInstitution as { institution: string; name: string; testRows: number; accuracy: number; loss: number }[];
    expect(per.map((p) => [p.institution, p.name, p.testRows])).toEqual([
      ['institution-1', 'site=A', 16],
      ['institution-2', 'site=B', 16],
      ['institution-3', 'site=C', 16],
    ]);
    // The pooled result is the row-weighted mean of the institutions' (equal test sizes: the plain mean).
    const mean = per.reduce((s, p) => s + p.accuracy, 0) / per.length;
    expect(summary.final.accuracy).toBeCloseTo(mean, 10);
    expect(summary.final.accuracy).toBeGreaterThan(0.6);
    // The imputation values were pooled from the sites' statistics at the first round and stored with the spec.
    const store = openSqliteStore(join(out, 'coordinator.db'));
    const impute = store.getFederation('simulation')?.spec.preprocessing?.impute;
    store.close();
    expect(impute?.age).toBeGreaterThan(45);
    expect(impute?.age).toBeLessThan(65);
    expect(summary.config.spec.features).toContain('ward=icu');
    expect(result.stdout).toMatch(/Institutions: 3, one per value of column "site" \(never a feature\)/);
    expect(result.stdout).toMatch(/institution-2\s+site=B\s+16\s+\d\.\d{4}\s+\d\.\d{4}/);
    expect(result.stdout).toMatch(/pooled\s+48\s+\d\.\d{4}/);
  });
});

describe('prepareData on a CSV with column choices', () => {
  it('takes --columns in their order, --categorical codes as categories, --missing tokens, and drops a constant column with the reason', () => {
    const path = join(dir, 'codes.csv');
    const rows = Array.from({ length: 40 }, (_, i) => `${i},${i % 3},${i % 5 === 0 ? '-99' : 20 + i},same,${i % 2 ? 'a' : 'b'}`);
    writeFileSync(path, `id,code,age,unit,y\n${rows.join('\n')}\n`);

    const picked = prepareData({ kind: 'csv', path, label: 'y' }, 'logreg', 2, iid, 0, 0.2, {
      tabular: { columns: ['age', 'code'], categorical: ['code'], missing: ['', '-99'] },
    });
    const all = prepareData({ kind: 'csv', path, label: 'y' }, 'logreg', 2, iid, 0, 0.2, { tabular: { ignore: ['id'] } });

    expect(picked.spec.features).toEqual(['age', 'age (missing)', 'code=0', 'code=1', 'code=2', 'code=other']);
    expect(picked.dropped).toEqual([]);
    expect(all.spec.features).toEqual(['code', 'age']); // codes are numbers unless told; -99 is a value unless told
    expect(all.dropped).toEqual([{ column: 'unit', reason: 'constant (one category in every row): it cannot inform the model' }]);
  });
});
