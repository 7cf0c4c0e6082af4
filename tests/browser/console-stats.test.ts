/**
 * The console's Stats page in Chromium: an admin runs a query over three real agents (hospital-admissions.csv split by
 * site) and sees a histogram per numeric column and the Kaplan-Meier curves; the query is listed under the last ones.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createApiToken } from '../../coordinator/auth/index.js';
import { readTextTable, whereColumn, type Table } from '../../node-agent/analytics/index.js';
import { grantSimulatedConsent } from '../../simulations/simulate/consents.js';
import { e2e } from '../e2e/helpers.js';
import { hasChromium, launchChromium } from './chromium.js';

const OUT = join(process.cwd(), 'runs', 'test-output');

e2e.skipIf(!hasChromium)('an admin runs a stats query from the console and sees histograms and survival curves', async ({ cohort }) => {
  const fed = await cohort.federation(3, { minParticipants: 99 });
  const table = readTextTable('docs/examples/hospital-admissions.csv');
  const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
  const slices = ['lakeview', 'northgate', 'riverside'].map((h) => whereColumn(table, 'site', h));
  fed.institutions.forEach((site, i) => {
    grantSimulatedConsent(site, manifest, join(fed.dir, 'sites', site.id, 'consent.json'), 3, ['analytics']);
    cohort.agent(fed, i, { statsTable: () => slices[i] as Table });
  });
  await Promise.all(cohort.agents.map((a) => a.ready));
  const { token } = createApiToken(fed.coordinator.store, { role: 'admin' }, 'test');

  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${fed.coordinator.url}/console`);
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('body[data-ready=overview]');
    await page.click('a[data-tab=stats]');
    await page.waitForSelector('body[data-ready=stats]');
    await page.fill('[name=columns]', 'age,bmi');
    await page.fill('[name=survival]', 'length_of_stay,readmitted_30d');
    await page.fill('[name=group]', 'site');
    await page.fill('[name=grid]', '1,2,3,4,5,6,7,8,9,10,12,14');
    await page.click('[data-testid=stats-form] button[type=submit]');
    await page.waitForSelector('[data-testid=stats-survival]');
    expect(await page.locator('[data-testid=stats-histogram]').count()).toBe(2);
    expect(await page.textContent('[data-testid=stats-result]')).toContain('log-rank');
    await page.waitForSelector('[data-testid=stats-recent] td');
    expect(await page.locator('[data-testid=stats-recent] tr').count()).toBe(2); // header + the query
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'console-stats.png'), fullPage: true });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});
