/**
 * `cohort stats --check`: real sites on loopback compare their columns with the data dictionary of the study they
 * consented to and say, per site, what differs, with counts below k withheld and rare unlisted values never named;
 * a coordinator cannot send its own ranges (they would act as row filters).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { StatsCheckResult } from '../../protocol/index.js';
import { answerStatsQuery } from '../../node-agent/analytics/index.js';
import { simulateStats } from '../../simulations/stats/simulate-stats.js';
import { checkSummary } from '../../simulations/stats/check-summary.js';
import { consent, site, study } from '../coordinator/policy/fixtures.js';
import { e2e } from '../e2e/helpers.js';

e2e('each site lists what differs from the dictionary; small counts are withheld', async ({ cohort }) => {
  const dir = cohort.tempDir();
  const rows: string[] = [];
  for (let i = 0; i < 60; i++) rows.push(`north,${i < 12 ? 150 : 40 + (i % 30)},a,1`); // 12 ages above the max of 120
  for (let i = 0; i < 60; i++) rows.push(`south,${i < 3 ? 5 : 40 + (i % 30)},b,1`); // 3 ages below the min of 18 (< k)
  for (let i = 0; i < 60; i++) rows.push(`east,${i % 10 === 0 ? '' : 50},${i < 6 ? 'x' : i < 8 ? 'y' : 'a'},1`); // 6 missing, 6 x, 2 y
  writeFileSync(join(dir, 'x.csv'), ['site,age,kind,extra', ...rows].join('\n'));
  writeFileSync(
    join(dir, 'dictionary.json'),
    JSON.stringify({
      format: 'cohort-data-dictionary/v1',
      columns: [
        { name: 'age', type: 'number', unit: 'years', min: 18, max: 120, missing: false },
        { name: 'kind', type: 'category', categories: ['a', 'b'], missing: false },
        { name: 'weight', type: 'number', unit: 'kg', missing: true },
      ],
    }),
  );

  const check = (await simulateStats({
    csv: join(dir, 'x.csv'),
    partition: 'site',
    request: { check: true },
    out: join(dir, 'run'),
    dictionary: join(dir, 'dictionary.json'),
  })) as StatsCheckResult;

  const col = (s: string, c: string) => check.sites[s]?.columns.find((x) => x.name === c);
  expect(check.format).toBe('cohort-stats-check/v1');
  expect(col('north', 'age')).toMatchObject({ status: 'differs', cells: { aboveMax: { n: 12 }, fits: { n: 48 } } });
  expect(col('south', 'age')?.status).toBe('differs');
  expect(col('south', 'age')?.cells.belowMin).toEqual({ n: 0, suppressed: true }); // 3 < k = 5
  expect(col('south', 'age')?.cells.fits.suppressed).toBe(true); // or 60 - fits would give the 3 back
  expect(col('east', 'age')).toMatchObject({ missingNotAllowed: true, cells: { missing: { n: 6 } } });
  expect(col('east', 'kind')).toMatchObject({ status: 'differs', unlistedValues: ['x'], cells: { unlisted: { n: 8 } } });
  expect(col('north', 'weight')?.status).toBe('absent');
  expect(check.sites.north?.extra).toEqual(['site', 'extra']);
  const text = checkSummary(check);
  expect(text).toContain('north: 60 rows, k=5: 2 column(s) differ');
  expect(text).toMatch(/east.*\n(.*\n)*\s+kind\s+differs.*unlisted: x/);
});

it('refuses a check query that carries its own dictionary or ranges (no row filters)', () => {
  const manifest = study();
  const reply = answerStatsQuery(
    {
      identity: site,
      federation: manifest.federation,
      consent: () => ({ consent: consent(manifest, { uses: ['analytics'] }) }),
      study: () => manifest,
      table: () => ({ source: 't', header: ['age'], rows: [['40']] }),
    },
    {
      id: 'query-0000009',
      federation: manifest.federation,
      ask: { phase: 'check', columns: [{ name: 'age', type: 'number', min: 39.5, missing: false }] },
    },
  );
  expect(reply).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
});
