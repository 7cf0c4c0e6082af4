/**
 * Federated analytics end to end: a real coordinator and four real agents on loopback, each holding one hospital's rows
 * of docs/examples/hospital-admissions.csv (plus a generated follow-up time and death flag); three consent to analytics
 * with the default k = 5, one does not. The REST query pools what equals the same computation on the pooled rows where
 * nothing was suppressed, says which site lacked a part where something was, and is audited.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createPrng, verifyDocument, type Identity } from '../../crypto/index.js';
import { createApiToken } from '../../coordinator/auth/index.js';
import { kaplanMeier } from '../../coordinator/analytics/kaplan-meier.js';
import { gridCounts, readTextTable, whereColumn, type Table } from '../../node-agent/analytics/index.js';
import { isMissingToken, type NumericResult, type StatsResult } from '../../protocol/index.js';
import { grantSimulatedConsent } from '../../simulations/simulate/consents.js';
import { e2e } from './helpers.js';

const HOSPITALS = ['lakeview', 'northgate', 'riverside', 'st-marys'];

/** The example export with `followup_days` (1..365) and `died` (0/1) appended, seeded. */
function exportWithSurvival(dir: string): Table {
  const base = readTextTable('docs/examples/hospital-admissions.csv');
  const rng = createPrng(16);
  const rows = base.rows.map((r) => [...r, String(1 + Math.floor(rng.next() * 365)), rng.next() < 0.4 ? '1' : '0']);
  const path = join(dir, 'admissions.csv');
  writeFileSync(
    path,
    [[...base.header, 'followup_days', 'died'], ...rows].map((r) => r.map((c) => (c.includes(',') ? `"${c}"` : c)).join(',')).join('\n'),
  );
  return readTextTable(path);
}

const numbers = (t: Table, column: string) => {
  const j = t.header.indexOf(column);
  return t.rows
    .map((r) => r[j] as string)
    .filter((c) => !isMissingToken(c))
    .map(Number);
};

e2e(
  'pools per-site statistics, suppresses small cells at each site, skips a site without analytics consent, and audits it',
  async ({ cohort }) => {
    const fed = await cohort.federation(4, { minParticipants: 99 });
    const table = exportWithSurvival(cohort.tempDir());
    const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
    fed.institutions.forEach((site: Identity, i) =>
      grantSimulatedConsent(
        site,
        manifest,
        join(fed.dir, 'sites', site.id, 'consent.json'),
        4,
        i < 3 ? ['analytics'] : ['training', 'evaluation'],
      ),
    );
    const slices = HOSPITALS.map((h) => whereColumn(table, 'site', h));
    fed.institutions.forEach((_, i) => cohort.agent(fed, i, { statsTable: () => slices[i] as Table }));
    await Promise.all(cohort.agents.map((a) => a.ready));
    const { token } = createApiToken(fed.coordinator.store, { role: 'admin' }, 'test');
    const ask = async (body: object) => {
      const res = await fetch(`${fed.coordinator.url}/api/federations/e2e/stats`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as StatsResult;
    };

    const grid = [30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360];
    const stats = await ask({
      columns: ['bmi', 'age', 'smoking'],
      edges: { bmi: [0, 25, 30, 100], age: [0, 50, 70, 120] },
      label: 'readmitted_30d',
      survival: { time: 'followup_days', event: 'died', grid },
    });

    // st-marys (site-4) did not consent to analytics: not asked
    expect(stats.refused['site-4']?.code).toBe('CONSENT_USE_NOT_ALLOWED');
    expect(Object.keys(stats.sites).sort()).toEqual(['site-1', 'site-2', 'site-3']);
    expect(stats.minCellSize).toEqual({ 'site-1': 5, 'site-2': 5, 'site-3': 5 });
    const answered = slices.slice(0, 3);
    const pooled: Table = { source: 'pooled', header: table.header, rows: answered.flatMap((t) => t.rows) };
    answered.forEach((t, i) => expect(stats.sites[`site-${i + 1}`]?.rows).toBe(t.rows.length));

    // bmi: no cell below 5 at any site -> exactly the pooled rows' figures
    const bmi = stats.columns.bmi as NumericResult;
    const values = numbers(pooled, 'bmi');
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(bmi.incomplete).toBeUndefined();
    expect([bmi.count, bmi.missing]).toEqual([values.length, pooled.rows.length - values.length]);
    expect(bmi.mean).toBeCloseTo(mean, 9);
    expect(bmi.std).toBeCloseTo(Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)), 9);
    expect(bmi.histogram.counts).toEqual([
      values.filter((v) => v < 25).length,
      values.filter((v) => v >= 25 && v < 30).length,
      values.filter((v) => v >= 30).length,
    ]);

    // age: lakeview (site-1) has 4 missing ages, below k: its present/missing split and histogram are withheld, and said so
    const age = stats.columns.age as NumericResult;
    expect(age.incompleteSites).toEqual(['site-1']);
    expect(age.count).toBe(numbers(answered[1] as Table, 'age').length + numbers(answered[2] as Table, 'age').length);

    // survival: pooled at-risk and event counts equal the pooled rows' on every step no site withheld; KM from them
    const t = pooled.header.indexOf('followup_days');
    const e = pooled.header.indexOf('died');
    const direct = gridCounts(
      pooled.rows.map((r) => ({ time: Number(r[t]), event: r[e] === '1' ? 1 : 0 })),
      grid,
    );
    const curve = stats.survival?.curves[0];
    const perSite = answered.map((s) =>
      gridCounts(
        s.rows.map((r) => ({ time: Number(r[t]), event: r[e] === '1' ? 1 : 0 })),
        grid,
      ),
    );
    const complete = grid.map((_, j) => perSite.every((c) => (c.atRisk[j] as number) >= 5 || c.atRisk[j] === 0));
    expect(complete.filter(Boolean).length).toBeGreaterThan(6);
    grid.forEach((_, j) => {
      if (!complete[j]) return;
      expect([curve?.atRisk[j], curve?.events[j]]).toEqual([direct.atRisk[j], direct.events[j]]);
      if (complete.slice(0, j + 1).every(Boolean)) expect(curve?.survival[j]).toBeCloseTo(kaplanMeier(direct).survival[j] as number, 12);
    });

    // crosstab of smoking against the label; per-site class balance
    const xt = stats.crosstabs.find((x) => x.rows === 'smoking' && x.cols === 'readmitted_30d');
    expect(xt?.cells[xt.rowNames.indexOf('never')]?.[xt.colNames.indexOf('yes')]).toBe(
      pooled.rows.filter((r) => r[6] === 'never' && r[13] === 'yes').length,
    );
    expect(stats.sites['site-2']?.balance?.counts.yes).toBe((answered[1] as Table).rows.filter((r) => r[13] === 'yes').length);

    // the same query asked with k = 1 gets each site's k = 5 back; grouped survival gives a log-rank test
    const grouped = await ask({
      columns: [],
      minCellSize: 1,
      survival: { time: 'followup_days', event: 'died', group: 'admission_type', grid },
    });
    expect(Object.values(grouped.minCellSize)).toEqual([5, 5, 5]);
    expect(grouped.survival?.curves.map((c) => c.group)).toContain('emergency');
    expect(grouped.survival?.logRank?.df).toBe((grouped.survival?.curves.length ?? 0) - 2);
    expect(grouped.survival?.logRank?.pValue).toBeGreaterThan(0);

    // audited: who asked and what, every site's signed answer per phase
    const audit = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'stats.query', limit: 10, offset: 0, order: 'asc' });
    expect(audit[0]?.actor).toMatch(/^token:tok_/);
    const answers = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'stats.answer', limit: 100, offset: 0, order: 'asc' });
    expect(
      answers
        .filter((a) => (a.data as { queryId: string }).queryId === stats.queryId)
        .map((a) => a.subject)
        .sort(),
    ).toEqual(['site-1', 'site-1', 'site-2', 'site-2', 'site-3', 'site-3']);
    // each stored answer verifies under its site's key: what a site said is attributable afterwards
    const stored = answers[0]?.data as { answer: unknown; signature: string };
    expect(
      verifyDocument(stored.answer, stored.signature, fed.institutions[Number(answers[0]?.subject?.slice(5)) - 1]!.signPublicKey),
    ).toBe(true);

    // bad input and the wrong role are refused with a code, and the coordinator keeps answering
    const post = (auth: string, body: unknown) =>
      fetch(`${fed.coordinator.url}/api/federations/e2e/stats`, {
        method: 'POST',
        headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const bad = await post(token, { columns: 'age', where: { site: 'x' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    expect((await post(createApiToken(fed.coordinator.store, { role: 'auditor' }, 'test').token, {})).status).toBe(403);
    expect((await ask({ columns: ['bmi'] })).columns.bmi?.kind).toBe('numeric');
  },
);
