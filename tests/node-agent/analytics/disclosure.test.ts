/**
 * The site's small-cell suppression at k - 1, k and k + 1, and the coordinator as adversary: asking for k = 1, asking
 * twice, asking with a row filter. What it does not stop is written in docs/analytics.md.
 */
import { describe, expect, it } from 'vitest';
import { verifyDocument } from '../../../crypto/index.js';
import { type StatsAnswerBody } from '../../../protocol/index.js';
import {
  answerStatsQuery,
  categoricalAnswer,
  crosstabAnswer,
  numericAnswer,
  protectCells,
  survivalAnswer,
  describeColumn,
  type StatsSite,
  type Table,
} from '../../../node-agent/analytics/index.js';
import { consent, site, study } from '../../coordinator/policy/fixtures.js';

const K = 5;

/** `small` rows with age 15, 40 rows with age 45; no missing values. */
function ages(small: number): Table {
  return {
    source: 'test',
    header: ['age'],
    rows: [...Array.from({ length: small }, () => ['15']), ...Array.from({ length: 40 }, () => ['45'])],
  };
}

describe('small-cell suppression at k - 1, k and k + 1', () => {
  it('withholds a lone count below k and publishes it from k', () => {
    expect(protectCells([K - 1], [], K)).toEqual([{ n: 0, suppressed: true }]);
    expect(protectCells([K], [], K)).toEqual([{ n: K }]);
    expect(protectCells([K + 1], [], K)).toEqual([{ n: K + 1 }]);
    expect(protectCells([0], [], K)).toEqual([{ n: 0 }]);
  });

  for (const small of [K - 1, K, K + 1]) {
    it(`a histogram bin of ${small} rows (k = ${K}) is ${small < K ? 'withheld, with a second bin so the total does not give it back' : 'published'}`, () => {
      const a = numericAnswer(ages(small), 'age', [0, 10, 20, 30, 40, 50], K);
      const bins = a.histogram.map((c) => c.n);
      const withheld = a.histogram.filter((c) => c.suppressed).length;
      expect(a.present).toEqual({ n: small + 40 });
      if (small < K) {
        expect(bins[2]).toBe(0); // the [10, 20) bin holding the small count
        expect(withheld).toBe(2); // and the 40 of [40, 50): total minus published cells is 0 + 0 + ..., not the small count
      } else {
        expect(bins).toEqual([0, 0, small, 0, 0, 40, 0]);
        expect(withheld).toBe(0);
      }
    });

    it(`a mean over ${small} rows (k = ${K}) is ${small < K ? 'withheld' : 'published'}`, () => {
      const t: Table = {
        source: 'test',
        header: ['bmi'],
        rows: [...Array.from({ length: small }, (_, i) => [String(20 + i)]), ...Array.from({ length: 10 }, () => ['NA'])],
      };
      const a = numericAnswer(t, 'bmi', [0, 100], K);
      if (small < K) {
        expect(a.mean).toBeUndefined();
        expect(a.present.suppressed && a.missing.suppressed).toBe(true); // 10 missing + published rows would give it back
      } else {
        expect(a.mean).toBeCloseTo(20 + (small - 1) / 2, 12);
        expect(a.present).toEqual({ n: small });
      }
    });

    it(`a category held by ${small} rows (k = ${K}) is ${small < K ? 'never named' : 'named'}`, () => {
      const t: Table = {
        source: 'test',
        header: ['dx'],
        rows: [...Array.from({ length: small }, () => ['rare-disease']), ...Array.from({ length: 30 }, () => ['flu'])],
      };
      const a = categoricalAnswer(t, 'dx', K);
      expect(a.categories.map((c) => c.name)).toEqual(small < K ? ['flu'] : ['flu', 'rare-disease']);
      if (small < K) expect(a.other.suppressed).toBe(true);
    });

    it(`a survival step with ${small} at risk (k = ${K}) is ${small < K ? 'withheld' : 'published'}`, () => {
      // 20 rows die at time 1; `small` rows live past time 1 and die at time 2
      const t: Table = {
        source: 'test',
        header: ['t', 'e'],
        rows: [...Array.from({ length: 20 }, () => ['1', '1']), ...Array.from({ length: small }, () => ['2', '1'])],
      };
      const a = survivalAnswer(t, { time: 't', event: 'e', grid: [1, 2] }, K);
      const curve = a.groups[0];
      expect(curve?.atRisk[0]).toEqual({ n: 20 + small });
      expect(curve?.atRisk[1]).toEqual(small < K ? { n: 0, suppressed: true } : { n: small });
      expect(curve?.events[1]).toEqual(small < K ? { n: 0, suppressed: true } : { n: small });
    });
  }

  it('leaves no row or column of a crosstab with a single withheld cell', () => {
    const rows: string[][] = [];
    const add = (a: string, b: string, n: number) => rows.push(...Array.from({ length: n }, () => [a, b]));
    for (const [a, b, n] of [
      ['never', '0', 50],
      ['never', '1', 2],
      ['former', '0', 30],
      ['former', '1', 20],
      ['current', '0', 7],
      ['current', '1', 9],
    ] as const)
      add(a, b, n);
    const x = crosstabAnswer({ source: 'test', header: ['smoking', 'y'], rows }, 'smoking', 'y', K);
    const lines = [...x.cells, ...x.colNames.map((_, j) => x.cells.map((r) => r[j]))];
    for (const line of lines) expect(line.filter((c) => c?.suppressed).length).not.toBe(1);
    expect(x.cells[x.rowNames.indexOf('never')]?.[x.colNames.indexOf('1')]).toEqual({ n: 0, suppressed: true });
  });

  it('takes a numeric range from the k-th extremes, so no single row sets it', () => {
    const t: Table = { source: 'test', header: ['age'], rows: [['101'], ...Array.from({ length: 30 }, (_, i) => [String(30 + i)])] };
    expect(describeColumn(t, 'age', K)).toEqual({ name: 'age', kind: 'numeric', range: [30, 60] }); // 34..56 (the 5th smallest and largest) rounded outward; the 101 does not show
  });
});

describe('a coordinator that tries to lower k or difference counts', () => {
  const manifest = study();
  const table: Table = {
    source: 'test',
    header: ['dx'],
    rows: [...Array.from({ length: 3 }, () => ['rare']), ...Array.from({ length: 30 }, () => ['flu'])],
  };
  const agentSite = (minCellSize?: number, uses: ('training' | 'evaluation' | 'analytics')[] = ['training', 'analytics']): StatsSite => ({
    identity: site,
    federation: manifest.federation,
    consent: () => ({
      consent: consent(manifest, {
        uses,
        limits: { requireSecureAggregation: false, minOtherInstitutions: 1, ...(minCellSize ? { minCellSize } : {}) },
      }),
    }),
    study: () => manifest,
    table: () => table,
  });
  const ask = (minCellSize?: number, extra: Record<string, unknown> = {}) => ({
    id: 'query-0001',
    federation: manifest.federation,
    ...(minCellSize ? { minCellSize } : {}),
    ask: { phase: 'count', numeric: [], categorical: ['dx'], crosstabs: [], ...extra },
  });

  it('answers a query asking for k = 1 with its own k (5 by default), signed', () => {
    const reply = answerStatsQuery(agentSite(), ask(1));
    expect(reply.ok).toBe(true);
    const body = (reply as { body: StatsAnswerBody }).body;
    expect(body.minCellSize).toBe(5);
    expect(body.categorical?.[0]?.categories.map((c) => c.name)).toEqual(['flu']);
    expect(verifyDocument(body, (reply as { signature: string }).signature, site.signPublicKey)).toBe(true);
  });

  it('applies a larger k when the asker asks for one, and the consent k when it is larger', () => {
    expect((answerStatsQuery(agentSite(), ask(40)) as { body: StatsAnswerBody }).body.minCellSize).toBe(40);
    expect(
      (answerStatsQuery(agentSite(2), ask()) as { body: StatsAnswerBody }).body.categorical?.[0]?.categories.map((c) => c.name),
    ).toEqual(['flu', 'rare']);
  });

  it('gives the same withheld answer to the same question asked twice', () => {
    const first = answerStatsQuery(agentSite(), ask());
    const second = answerStatsQuery(agentSite(), { ...ask(), id: 'query-0002' });
    expect((first as { body: StatsAnswerBody }).body.categorical).toEqual((second as { body: StatsAnswerBody }).body.categorical);
  });

  it('refuses a row filter (no query can select rows to difference a withheld count out)', () => {
    const reply = answerStatsQuery(agentSite(), ask(undefined, { where: { column: 'dx', equals: 'rare' } }));
    expect(reply).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('refuses when the consent does not allow analytics', () => {
    expect(answerStatsQuery(agentSite(undefined, ['training']), ask())).toMatchObject({
      ok: false,
      error: { code: 'CONSENT_USE_NOT_ALLOWED' },
    });
  });
});
