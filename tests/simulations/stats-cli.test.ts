/** `cohort stats`: flags become a validated request; the simulated form runs real sites on loopback and writes stats.json and SVG plots. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../crypto/index.js';
import type { StatsResult } from '../../protocol/index.js';
import { requestFrom } from '../../simulations/cli/stats-command.js';
import { simulateStats } from '../../simulations/stats/simulate-stats.js';
import { statsSummary, writeStatsRun } from '../../simulations/stats/write-run.js';
import { e2e } from '../e2e/helpers.js';

const flags = { edges: [], crosstab: [], json: false };

describe('cohort stats flags', () => {
  it('turns the flags into the REST body', () => {
    const req = requestFrom(
      {
        ...flags,
        columns: 'age,bmi',
        edges: ['age=0,50,100'],
        crosstab: ['smoking:sex'],
        survival: 'days,died',
        group: 'arm',
        grid: '30,60',
        quantiles: '0.1,0.9',
        minCell: 10,
      },
      true,
    );
    expect(req).toEqual({
      columns: ['age', 'bmi'],
      edges: { age: [0, 50, 100] },
      crosstabs: [{ rows: 'smoking', cols: 'sex' }],
      survival: { time: 'days', event: 'died', group: 'arm', grid: [30, 60] },
      quantiles: [0.1, 0.9],
      minCellSize: 10,
    });
  });

  it('names what is wrong', () => {
    expect(() => requestFrom({ ...flags, survival: 'days' }, true)).toThrow('--survival takes TIME,EVENT');
    expect(() => requestFrom({ ...flags, group: 'arm' }, true)).toThrow('--group needs --survival');
    expect(() => requestFrom({ ...flags, edges: ['age=0,x'] }, true)).toThrow('--edges: "x" is not a number');
    expect(() => requestFrom({ ...flags, quantiles: '1.5' }, true)).toThrow('bad stats request: quantiles.0');
    expect(() => requestFrom({ ...flags, edges: ['age=0,50,40'] }, true)).toThrow('edges.age: must be strictly increasing');
  });
});

e2e('the simulated form applies --min-cell at every site and writes stats.json, histograms and the survival plot', async ({ cohort }) => {
  const dir = cohort.tempDir();
  const rng = createPrng(3);
  const rows = Array.from({ length: 240 }, (_, i) => [
    ['north', 'south', 'east'][i % 3],
    (30 + rng.next() * 50).toFixed(0),
    String(1 + Math.floor(rng.next() * 100)),
    rng.next() < 0.5 ? '1' : '0',
    i % 40 === 0 ? 'rare' : 'common',
  ]);
  writeFileSync(join(dir, 'x.csv'), ['site,age,days,died,kind', ...rows.map((r) => r.join(','))].join('\n'));

  const stats = (await simulateStats({
    csv: join(dir, 'x.csv'),
    partition: 'site',
    minCell: 10,
    request: { survival: { time: 'days', event: 'died' } },
    out: join(dir, 'run'),
  })) as StatsResult;
  const files = await writeStatsRun(join(dir, 'run'), stats);

  expect(stats.minCellSize).toEqual({ east: 10, north: 10, south: 10 });
  expect(Object.values(stats.sites).map((s) => s.rows)).toEqual([80, 80, 80]);
  // 'rare' is held by 2 rows per site (< 10): never named, counted under (other) only where that count is itself >= 10
  expect(Object.keys((stats.columns.kind as { counts: Record<string, number> }).counts)).not.toContain('rare');
  expect(files).toEqual(expect.arrayContaining(['stats.json', 'hist-age.svg', 'hist-days.svg', 'survival.svg']));
  expect(readFileSync(join(dir, 'run', 'survival.svg'), 'utf8')).toContain('<svg');
  expect(JSON.parse(readFileSync(join(dir, 'run', 'stats.json'), 'utf8')).format).toBe('cohort-stats/v1');
  expect(existsSync(join(dir, 'run', 'sites', 'north', 'audit.jsonl'))).toBe(true);
  expect(statsSummary(stats)).toContain('north 80 rows, k=10');
});

e2e('with --secure and --epsilon, real agents mask noisy counts and charge the ledger beside their consent', async ({ cohort }) => {
  const dir = cohort.tempDir();
  const rows = Array.from({ length: 300 }, (_, i) => `${['north', 'south', 'east'][i % 3]},${20 + (i % 60)},${1 + (i % 30)},${i % 2}`);
  writeFileSync(join(dir, 'x.csv'), ['site,age,days,died', ...rows].join('\n'));

  const stats = (await simulateStats({
    csv: join(dir, 'x.csv'),
    partition: 'site',
    budget: 5,
    request: {
      columns: ['age'],
      edges: { age: [0, 40, 60, 80] },
      survival: { time: 'days', event: 'died', grid: [10, 20, 30] },
      label: 'died',
      secure: true,
      epsilon: 1,
    },
    out: join(dir, 'run'),
  })) as StatsResult;

  expect(stats.secure).toMatchObject({ attempts: 1, minCellSize: 5 });
  // the label's names were agreed over the wire before masking: both outcomes pooled by name
  expect(Object.keys((stats.columns.died as { counts: Record<string, number> }).counts).sort()).toEqual(['(other)', '0', '1']);
  expect(Object.keys(stats.dp ?? {}).sort()).toEqual(['east', 'north', 'south']);
  expect(Object.values(stats.sites).every((s) => s.suppressed)).toBe(true);
  // three sites' noise (sigma about 20 each) on 300 rows: the pooled count is near, not equal by construction
  expect(Math.abs((stats.secure?.rows ?? 0) - 300)).toBeLessThan(200);
  for (const site of ['east', 'north', 'south']) {
    const ledger = JSON.parse(readFileSync(join(dir, 'run', 'sites', site, 'consent.ledger.json'), 'utf8')) as {
      entries: { query?: string }[];
    };
    expect(ledger.entries).toHaveLength(1);
    expect(ledger.entries[0]?.query).toBe(stats.queryId);
  }
});
