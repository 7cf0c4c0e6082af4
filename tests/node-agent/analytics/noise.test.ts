/**
 * DP noise on a site's counts, decided by the site: the coordinator asking for a huge epsilon (or none at all) gets the
 * site's floor from its consent, epsilon 0 is malformed, every noisy answer is charged to the same ledger as training,
 * and the site refuses once its budget is spent. Noise comes first, then suppression of the noisy counts.
 */
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dp } from '../../../crypto/index.js';
import type { StatsAnswerBody, StatsReply } from '../../../protocol/index.js';
import { answerStatsQuery, countSensitivity, type StatsSite, type Table } from '../../../node-agent/analytics/index.js';
import { ledgerSpent, readLedger } from '../../../node-agent/privacy-ledger.js';
import { consent, site, study } from '../../coordinator/policy/fixtures.js';

const table: Table = {
  source: 'test',
  header: ['age', 'dx'],
  rows: Array.from({ length: 60 }, (_, i) => [String(20 + (i % 50)), i % 3 === 0 ? 'flu' : 'cold']),
};
const ask = { phase: 'count', numeric: [{ column: 'age', edges: [0, 40, 80] }], categorical: ['dx'], crosstabs: [] } as const;
const query = (epsilon?: number) => ({
  id: `query-${Math.random().toString(16).slice(2, 10)}`,
  federation: study().federation,
  ...(epsilon !== undefined ? { epsilon } : {}),
  ask,
});

function agentSite(limits: { analyticsEpsilon?: number; maxEpsilon?: number }, gaussian: dp.GaussianSource = () => 0): StatsSite {
  const manifest = study();
  const ledgerFile = join(mkdtempSync(join(tmpdir(), 'stats-dp-')), 'consent.ledger.json');
  return {
    identity: site,
    federation: manifest.federation,
    consent: () => ({
      consent: consent(manifest, { uses: ['analytics'], limits: { requireSecureAggregation: false, minOtherInstitutions: 1, ...limits } }),
    }),
    study: () => manifest,
    table: () => table,
    ledgerFile,
    gaussian,
  };
}
const bodyOf = (r: StatsReply) => (r as { body: StatsAnswerBody }).body;

describe('DP noise on counts, decided by the site', () => {
  it('applies its own floor when the coordinator asks for a huge epsilon, and charges its ledger', () => {
    const s = agentSite({ analyticsEpsilon: 1, maxEpsilon: 10 });
    const reply = answerStatsQuery(s, query(1e6));
    expect(reply.ok ? 'ok' : reply.error.message).toBe('ok');
    const { dp: applied } = bodyOf(reply);
    expect(applied?.epsilon).toBe(1);
    expect(applied?.sensitivity).toBeCloseTo(Math.sqrt(1 + 2 + 1), 12);
    expect(applied?.noiseMultiplier).toBeCloseTo(dp.noiseFor({ q: 1, steps: 1, delta: 1e-5, targetEpsilon: 1 }), 9);
    const entries = readLedger(s.ledgerFile as string);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.query).toMatch(/^query-/);
    expect(ledgerSpent(entries, 1e-5)).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('adds noise even when the coordinator asks for none, if its consent names analyticsEpsilon', () => {
    const reply = answerStatsQuery(agentSite({ analyticsEpsilon: 2, maxEpsilon: 10 }), query());
    expect(bodyOf(reply).dp?.epsilon).toBe(2);
  });

  it('refuses epsilon 0 as malformed (no noise-free DP)', () => {
    const reply = answerStatsQuery(agentSite({ maxEpsilon: 10 }), query(0));
    expect(reply.ok).toBe(false);
    expect((reply as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
  });

  it('refuses a huge epsilon with CONSENT_EPSILON_EXCEEDED when no floor lowers it, and charges nothing', () => {
    const s = agentSite({ maxEpsilon: 10 });
    const reply = answerStatsQuery(s, query(1e6));
    expect((reply as { error: { code: string } }).error.code).toBe('CONSENT_EPSILON_EXCEEDED');
    expect(existsSync(s.ledgerFile as string)).toBe(false);
  });

  it('answers until its budget is spent, then refuses (the ledger composes every query by RDP)', () => {
    const s = agentSite({ maxEpsilon: 3 });
    const codes: string[] = [];
    for (let i = 0; i < 20 && !codes.includes('CONSENT_EPSILON_EXCEEDED'); i++) {
      const r = answerStatsQuery(s, query(1));
      codes.push(r.ok ? 'ok' : r.error.code);
    }
    const answered = codes.filter((c) => c === 'ok').length;
    expect(codes.at(-1)).toBe('CONSENT_EPSILON_EXCEEDED');
    expect(answered).toBeGreaterThanOrEqual(3); // composition is tighter than adding epsilons
    expect(readLedger(s.ledgerFile as string)).toHaveLength(answered);
    expect(ledgerSpent(readLedger(s.ledgerFile as string), 1e-5)).toBeLessThanOrEqual(3 + 1e-6);
  });

  it('adds sigma x N(0, 1), rounded, to every count and sends no mean under noise', () => {
    const reply = answerStatsQuery(
      agentSite({ maxEpsilon: 10 }, () => 1),
      query(1),
    );
    const body = bodyOf(reply);
    const sigma = body.dp?.sigma as number;
    const age = body.numeric?.[0];
    expect(age?.present.n).toBe(Math.round(60 + sigma));
    expect(age?.missing.n).toBe(Math.round(0 + sigma));
    expect(age?.mean).toBeUndefined();
    expect(age?.m2).toBeUndefined();
    expect(body.rows.n).toBe(Math.round(60 + sigma));
  });

  it('suppresses after noise: a count the noise pushes below k is withheld, zeros stay zeros', () => {
    const sigma = bodyOf(answerStatsQuery(agentSite({ maxEpsilon: 10 }), query(1))).dp?.sigma as number;
    // noise of exactly -26 on every count: each 30-row bin reads 4 (< k = 5) and is withheld; present reads 34
    const reply = answerStatsQuery(
      agentSite({ maxEpsilon: 10 }, () => -26 / sigma),
      query(1),
    );
    const age = bodyOf(reply).numeric?.[0];
    expect(age?.histogram).toEqual([{ n: 0 }, { n: 0, suppressed: true }, { n: 0, suppressed: true }, { n: 0 }]);
    expect(age?.present).toEqual({ n: 34 });
    const clean = answerStatsQuery(
      agentSite({ maxEpsilon: 10 }, () => -20 / sigma),
      query(1),
    );
    expect(bodyOf(clean).numeric?.[0]?.histogram.map((c) => c.n)).toEqual([0, 10, 10, 0]);
  });

  it('states the L2 sensitivity per analysis (one row moves one cell per figure, every at-risk step in survival)', () => {
    expect(countSensitivity({ phase: 'count', numeric: [], categorical: [], crosstabs: [] })).toBe(1);
    expect(
      countSensitivity({
        phase: 'count',
        numeric: [],
        categorical: [],
        crosstabs: [],
        survival: { time: 't', event: 'e', grid: [1, 2, 3] },
      }),
    ).toBeCloseTo(Math.sqrt(1 + 3 + 2), 12);
  });
});
