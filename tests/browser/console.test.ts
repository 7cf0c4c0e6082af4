import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createApiToken } from '../../coordinator/auth/index.js';
import { startAgent, startFederation, type Federation } from '../e2e/helpers.js';
import { hasChromium, launchChromium } from './chromium.js';
import { seedHistory } from './seed-history.js';

const OUT = join(process.cwd(), 'runs', 'test-output');
/** Set COHORT_DOCS_SCREENSHOT=1 to refresh docs/console.png (docs/console.md) from this run. */
const DOCS = process.env.COHORT_DOCS_SCREENSHOT === '1';

if (!hasChromium) console.warn('tests/browser/console.test.ts skipped: /usr/bin/chromium is missing (apt-get install -y chromium)');

/** Runs in the page (as a string: the project's TypeScript has no DOM types): records each (round, state) the overview shows. */
const RECORD_ROUNDS = `(() => {
  window.__seen = [];
  window.__noReload = true;
  const box = document.querySelector('[data-testid=current-round]');
  const record = () => {
    const now = box.querySelector('[data-testid=round-number]')?.textContent + ':' + box.querySelector('[data-testid=round-state]')?.textContent;
    if (window.__seen.at(-1) !== now) window.__seen.push(now);
  };
  record();
  new MutationObserver(record).observe(box, { childList: true, subtree: true, characterData: true });
})()`;

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/console`);
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('body[data-ready=overview]');
}

const shot = async (page: Page, name: string): Promise<void> => {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, `console-${name}.png`), fullPage: true });
};

describe.skipIf(!hasChromium)('the web console', () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows an auditor a round progressing live, a model card and a verified audit chain, with no admin action', async () => {
    // For the README's picture, the 2NN on more rows: rounds long enough to catch one half done.
    const fed: Federation = DOCS ? await startFederation(3, { rounds: 2 }, 'mlp', 1500) : await startFederation(3, { rounds: 2 });
    try {
      const { store, federation, url } = fed.coordinator;
      const { token: auditor } = createApiToken(store, { role: 'auditor', label: 'browser test' }, 'test');
      const { token: admin } = createApiToken(store, { role: 'admin', label: 'browser test' }, 'test');
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (msg) => void (msg.type() === 'error' && errors.push(msg.text())));
      await signIn(page, url, auditor);
      expect(await page.textContent('[data-testid=role]')).toBe('auditor');
      await page.waitForSelector('#live-status[data-state=on]');
      expect(await page.textContent('[data-testid=round-state]')).toBe('waiting');

      // Record every (round, state) the overview shows, without reloading, while real agents train.
      await page.evaluate(RECORD_ROUNDS);
      const agents = [0, 1, 2].map((i) => startAgent(fed, i));
      let midRound = false;
      let docsShot = false;
      let allOnline = false;
      const finished = Promise.all(agents.map((a) => a.done));
      let settled = false;
      void finished.finally(() => (settled = true));
      while (!settled) {
        allOnline ||= (await page.textContent('[data-testid=online-count]'))?.startsWith('3 of 3') ?? false;
        if (!midRound && (await page.textContent('[data-testid=round-state]')) === 'training') {
          midRound = true;
          await shot(page, 'overview-live');
        }
        // Round 2 training (round 1 published, its events in the feed): the README's picture.
        if (DOCS && !docsShot && (await page.textContent('[data-testid=current-round] h3'))?.startsWith('Round 2 training')) {
          docsShot = true;
          await page.screenshot({ path: join(process.cwd(), 'docs', 'console.png') });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await finished).toEqual([
        { rounds: 2, finalVersion: 2 },
        { rounds: 2, finalVersion: 2 },
        { rounds: 2, finalVersion: 2 },
      ]);
      agents.forEach((a) => a.close());
      // (Waits poll from here: the page's Content-Security-Policy forbids the eval that waitForFunction needs.)
      await expect.poll(() => page.evaluate('window.__seen.includes("2:published")'), { timeout: 30_000 }).toBe(true);
      const seen = (await page.evaluate('window.__seen')) as string[];
      expect(seen[0]).toBe('1:waiting');
      expect(seen).toContain('1:training');
      expect(seen.indexOf('1:training')).toBeLessThan(seen.indexOf('2:published'));
      expect(await page.evaluate('window.__noReload')).toBe(true);
      expect(await page.locator('[data-testid=feed] li').count()).toBeGreaterThan(3);
      // Agents coming online and going offline show up live too.
      expect(allOnline).toBe(true);
      await expect.poll(() => page.textContent('[data-testid=online-count]'), { timeout: 30_000 }).toMatch(/^0 of 3/);
      expect(await page.locator('.admin-action').count()).toBe(0);
      await shot(page, 'overview');

      // Rounds: the chart, and each round's participations and policy decision.
      await page.click('a[data-tab=rounds]');
      await page.waitForSelector('[data-testid=rounds-table] tr[data-round="1"]');
      await page.click('[data-testid=rounds-table] tr[data-round="1"]');
      await page.waitForSelector('[data-testid=round-detail] [data-testid=decisions]');
      expect(await page.locator('[data-testid=participations] tbody tr').count()).toBe(3);
      expect(await page.textContent('[data-testid=decisions]')).toContain('passed');
      await shot(page, 'rounds');

      // Models: the card of the final model, with its digest and contributors.
      await page.click('a[data-tab=models]');
      await page.click('[data-testid=models-table] tr[data-version="2"]');
      await page.waitForSelector('[data-testid=card-digest]');
      expect(await page.textContent('[data-testid=card-digest]')).toBe(store.getModel(federation, 2)!.digest);
      const contributors = await page.locator('[data-testid=contributors] tbody tr td:first-child').allTextContents();
      expect(contributors.sort()).toEqual(['site-1', 'site-2', 'site-3']);
      await shot(page, 'model-card');

      // Audit: filter by kind, then verify the whole chain.
      await page.click('a[data-tab=audit]');
      await page.waitForSelector('[data-testid=audit-table]');
      await page.selectOption('[data-testid=audit-kind]', 'update.accepted');
      await expect.poll(() => page.textContent('[data-testid=audit-pager]'), { timeout: 30_000 }).toContain('of 6');
      await page.click('[data-testid=audit-verify]');
      await page.waitForSelector('[data-testid=audit-verdict][data-ok=true]');
      expect(await page.textContent('[data-testid=audit-verdict]')).toMatch(/Chain OK — \d+ entries verified/);
      await shot(page, 'audit');
      expect(errors).toEqual([]);
      await page.close();

      // The same overview for an admin has the actions the auditor did not see.
      const adminPage = await browser.context.newPage();
      await signIn(adminPage, url, admin);
      expect(await adminPage.locator('.admin-action').count()).toBe(3);
      await adminPage.close();

      // An institution sees itself only, and neither admin actions nor the chain check (which reads everyone's entries).
      const sitePage = await browser.context.newPage();
      await signIn(sitePage, url, createApiToken(store, { role: 'institution', institution: 'site-2' }, 'test').token);
      expect(await sitePage.locator('[data-testid=institutions] tbody tr td:first-child').allTextContents()).toEqual(['site-2']);
      expect(await sitePage.locator('.admin-action').count()).toBe(0);
      await sitePage.click('a[data-tab=audit]');
      await sitePage.waitForSelector('[data-testid=audit-table]');
      expect(await sitePage.isVisible('[data-testid=audit-verify]')).toBe(false);
      await sitePage.close();
    } finally {
      await fed.close();
    }
  }, 240_000);

  it('renders the overview in under a second with 100 rounds of 50 institutions in the store', async () => {
    const fed = await startFederation(50, { rounds: 100, minParticipants: 3 });
    try {
      const { store, federation, url } = fed.coordinator;
      seedHistory(store, federation, fed.coordinatorIdentity, 100);
      const { token } = createApiToken(store, { role: 'auditor', label: 'load test' }, 'test');
      const page = await browser.context.newPage();
      await page.addInitScript(`sessionStorage.setItem('cohort.console.token', ${JSON.stringify(token)})`);

      const started = Date.now();
      await page.goto(`${url}/console`);
      await page.waitForSelector('body[data-ready=overview]');
      const wall = Date.now() - started;
      const firstRender = (await page.evaluate('window.__consoleFirstRender')) as number;
      expect(await page.textContent('[data-testid=round-number]')).toBe('100');
      expect(await page.locator('[data-testid=institutions] tbody tr').count()).toBe(50);

      const timed = async (hash: string, selector: string): Promise<number> => {
        const t = Date.now();
        await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
        await page.waitForSelector(selector);
        return Date.now() - t;
      };
      const rounds = await timed('#/rounds', '[data-testid=rounds-table] tr[data-round="100"]');
      await shot(page, 'history-rounds');
      const models = await timed('#/models', '[data-testid=models-table] tr[data-version]');
      const audit = await timed('#/audit', '[data-testid=audit-table] tbody tr');
      console.log(
        `console with 100 rounds x 50 institutions: first render ${firstRender.toFixed(0)} ms after navigation start (${wall} ms wall); rounds tab ${rounds} ms, models ${models} ms, audit ${audit} ms`,
      );
      writeFileSync(
        join(OUT, 'console-timings.json'),
        JSON.stringify({ firstRenderMs: firstRender, wallMs: wall, roundsTabMs: rounds, modelsTabMs: models, auditTabMs: audit }, null, 2),
      );
      expect(firstRender).toBeLessThan(1000);

      // Someone edits one audit row behind the coordinator's back: the console says where the chain breaks.
      const db = new Database(join(fed.dir, 'coordinator.db'));
      db.prepare(`UPDATE audit SET data = replace(data, '"samples":300', '"samples":3000') WHERE id = 1000`).run();
      db.close();
      await page.click('[data-testid=audit-verify]');
      await page.waitForSelector('[data-testid=audit-verdict][data-ok=false]');
      expect(await page.textContent('[data-testid=audit-verdict]')).toMatch(
        /Chain broken at entry #1000 \(999 entries verified before it\)/,
      );
      await shot(page, 'audit-broken');
      await page.close();
    } finally {
      await fed.close();
    }
  }, 180_000);
});
