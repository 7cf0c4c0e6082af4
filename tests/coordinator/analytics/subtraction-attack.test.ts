/**
 * The party who reads the answers (the coordinator reading each site's signed answer, or an analyst reading stats.json
 * through the API or the console) tries to recover a withheld small cell by arithmetic on what is published: a total
 * minus its published parts. Played on the plain path (a site's answer), the secure path (the pooled answer the
 * coordinator releases) and with DP noise, with hand-made tables where a leak was found and with random tables solved
 * exactly (every linear relation between the published counts of one answer, by Gauss-Jordan).
 */
import { describe, expect, it } from 'vitest';
import { dp, fingerprint, generateIdentity, type Identity } from '../../../crypto/index.js';
import { runStats, type StatsDeps } from '../../../coordinator/analytics/index.js';
import { pooledAnswer } from '../../../coordinator/analytics/pool-secure.js';
import { determinedCells, protectCells, type CountAsk, type StatsAnswerBody, type StatsReply } from '../../../protocol/index.js';
import {
  answerStatsQuery,
  countSensitivity,
  gaussianCountNoise,
  secureCounts,
  survivalAnswer,
  type StatsSite,
  type Table,
} from '../../../node-agent/analytics/index.js';
import { namedCategories, rowsAnswer } from '../../../node-agent/analytics/site-counts.js';
import { analyticsSite, study } from '../policy/fixtures.js';
import { recoverWithheld, relationsOf } from './linear-attacker.js';

const K = 5;
const identities = [0, 1, 2].map((i) => generateIdentity(`ward-${i}`));
const manifest = study({ institutions: identities.map((i) => ({ id: i.id, fingerprint: fingerprint(i.signPublicKey) })) });

function sites(data: readonly Table[]): { identity: Identity; site: StatsSite }[] {
  return data.map((table, i) =>
    analyticsSite(manifest, identities[i] as Identity, table, { requireSecureAggregation: false, minOtherInstitutions: 1, minCellSize: K }),
  );
}

/** The real runStats, answered in process by the real agents. */
function coordinator(all: { identity: Identity; site: StatsSite }[]): StatsDeps {
  return {
    federation: manifest.federation,
    eligible: () => ({ ask: all.map((s) => s.identity.id), skip: {} }),
    send: async (site, query) => answerStatsQuery(all.find((s) => s.identity.id === site)?.site as StatsSite, query),
    signKey: (site) => all.find((s) => s.identity.id === site)?.identity.signPublicKey,
    audit: () => undefined,
  };
}

const body = (r: StatsReply) => (r as { body: StatsAnswerBody }).body;
const repeat = (n: number, row: string[]) => Array.from({ length: n }, () => [...row]);

/** A plain count query answered by one site. */
function plainAnswer(table: Table, ask: CountAsk): StatsAnswerBody {
  const site = sites([table])[0]?.site as StatsSite;
  return body(answerStatsQuery(site, { id: 'query-attack', federation: manifest.federation, ask }));
}

/** The pooled answer the coordinator releases under secure aggregation (the masks cancel in the sum: summed unmasked here). */
function securePooled(tables: readonly Table[], ask: CountAsk): ReturnType<typeof pooledAnswer> {
  const named = [
    ...ask.categorical,
    ...ask.crosstabs.flatMap((x) => [x.rows, x.cols]),
    ...(ask.survival?.group ? [ask.survival.group] : []),
  ];
  const vocabulary = Object.fromEntries(
    [...new Set(named)].map((c) => {
      const names = new Set(
        tables.flatMap(
          (t) =>
            namedCategories(
              t.rows.map((r) => r[t.header.indexOf(c)] as string),
              K,
            ).names,
        ),
      );
      return [c, [...names].sort()];
    }),
  );
  const withNames: CountAsk = { ...ask, vocabulary };
  const vectors = tables.map((t) => secureCounts(t, withNames));
  const sum = new Uint32Array(vectors[0]?.length ?? 0).map((_, i) => vectors.reduce((s, v) => s + (v[i] as number), 0));
  return pooledAnswer(sum, withNames, K);
}

describe('survival without a group: the withheld count of unusable rows', () => {
  // 3 sites, 3 rows in all without a usable time (1 + 2 + 0): the pooled `excluded` is 3 < k and withheld
  const data: Table[] = [40, 50, 30].map((n, s) => ({
    source: `site-${s}`,
    header: ['days', 'died'],
    rows: Array.from({ length: n }, (_, i) => [i < [1, 2, 0][s]! ? 'NA' : String(1 + ((i * 7) % 30)), i % 3 === 0 ? '1' : '0']),
  }));
  const survival = { time: 'days', event: 'died', grid: [10, 20, 30] };

  it('an analyst reading a secure stats.json cannot get it as pooled rows minus the first at-risk count', async () => {
    const result = await runStats(coordinator(sites(data)), { columns: [], survival, secure: true }, 'token:analyst');
    const all = result.survival?.curves[0];
    const attack = (result.secure?.rows ?? 0) - (all?.atRisk[0] ?? 0);
    expect(attack).not.toBe(3);
    expect(all?.incompleteSites).toContain('(pooled)'); // the curve says it lacks a part
    expect(result.notes.join('\n')).toMatch(/survival.*could not be used/);
  });

  it('the coordinator reading one site answer cannot get it either (the site withholds its curve with it)', () => {
    const answer = plainAnswer(data[1] as Table, { phase: 'count', numeric: [], categorical: [], crosstabs: [], survival });
    expect(answer.survival?.excluded).toEqual({ n: 0, suppressed: true });
    expect(recoverWithheld(relationsOf(answer))).toEqual(new Map());
  });
});

describe('categorical counts beside their crosstab with the label', () => {
  // a: A 510, B 50, C 320, 2 missing; b (the label): the crosstab's columns. The categorical line withholds the 2 missing
  // and B (its smallest); the crosstab withholds its (missing) row and a cycle through A and C that leaves row B whole.
  const rows = [
    ...repeat(500, ['A', 'no']),
    ...repeat(10, ['A', 'yes']),
    ...repeat(25, ['B', 'no']),
    ...repeat(25, ['B', 'yes']),
    ...repeat(20, ['C', 'no']),
    ...repeat(300, ['C', 'yes']),
    ...repeat(2, ['NA', 'yes']),
  ];
  const ask: CountAsk = { phase: 'count', numeric: [], categorical: ['a', 'b'], crosstabs: [{ rows: 'a', cols: 'b' }] };

  it('the coordinator cannot get the 2 missing as rows minus A, C and the crosstab row B (a site answer)', () => {
    const answer = plainAnswer({ source: 'site', header: ['a', 'b'], rows }, ask);
    const a = answer.categorical?.[0];
    expect(a?.missing).toEqual({ n: 0, suppressed: true });
    const rowB = answer.crosstabs?.[0]?.cells[answer.crosstabs[0]?.rowNames.indexOf('B') ?? -1] ?? [];
    const attack = rowB.every((c) => !c.suppressed)
      ? answer.rows.n - rowB.reduce((s, c) => s + c.n, 0) - (a?.categories ?? []).reduce((s, c) => s + c.count.n, 0) - (a?.other.n ?? 0)
      : null;
    expect(attack).toBeNull();
    expect(recoverWithheld(relationsOf(answer))).toEqual(new Map());
  });

  it('an analyst cannot do it on the pooled answer under secure aggregation', () => {
    const half = (p: number) => ({ source: `site-${p}`, header: ['a', 'b'], rows: rows.filter((_, i) => i % 2 === p) });
    expect(recoverWithheld(relationsOf(securePooled([half(0), half(1)], ask)))).toEqual(new Map());
  });
});

describe('a chain of lines', () => {
  it('protects a withheld cell that no single line gives back but rows minus columns do (a bridge between two cycles)', () => {
    // 9 cells of 2 or 3 (k = 5): every row and column holds 0 or at least 2 withheld cells summing to at least k, yet
    // rows 1 + 2 minus columns 1 + 2 leave the 2 at row 2, column 3 alone
    const matrix = [
      [3, 3, 50, 60],
      [3, 3, 2, 70],
      [40, 50, 3, 3],
      [60, 40, 3, 3],
    ];
    const flat = matrix.flat();
    const rowLines = matrix.map((_, r) => [0, 1, 2, 3].map((c) => r * 4 + c));
    const colLines = [0, 1, 2, 3].map((c) => matrix.map((_, r) => r * 4 + c));
    const lines = [...rowLines, ...colLines, flat.map((_, i) => i)];
    const primary = flat.map((n) => n < K);
    expect(determinedCells(primary, lines)).toEqual([6]); // what the line rule alone would publish

    const out = protectCells(flat, lines, K);
    const withheld = out.map((c) => c.suppressed === true);
    expect(determinedCells(withheld, lines)).toEqual([]);
    expect(withheld.filter(Boolean).length).toBe(10); // one published cell more: the cheapest that breaks the chain
  });
});

/** Deterministic random numbers (mulberry32), so a failing table can be rebuilt from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small site: a skewed category with rare values, a label, a number, survival time and event; a few gaps in each. */
function randomTable(next: () => number, source: string): Table {
  const pick = (choices: readonly [string, number][]) => {
    let u = next();
    for (const [v, w] of choices) if ((u -= w) < 0) return v;
    return 'NA';
  };
  const n = 12 + Math.floor(next() * 70);
  return {
    source,
    header: ['a', 'b', 'x', 't', 'e'],
    rows: Array.from({ length: n }, () => [
      pick([
        ['p', 0.5],
        ['q', 0.27],
        ['r', 0.1],
        ['s', 0.06],
      ]),
      pick([
        ['yes', 0.4],
        ['no', 0.55],
      ]),
      next() < 0.07 ? '' : String(Math.floor(next() * 100)),
      next() < 0.05 ? '?' : String(1 + Math.floor(next() * 30)),
      next() < 0.04 ? '' : next() < 0.4 ? '1' : '0',
    ]),
  };
}

const randomAsk = (grouped: boolean): CountAsk => ({
  phase: 'count',
  numeric: [{ column: 'x', edges: [0, 25, 50, 75, 100] }],
  categorical: ['a', 'b'],
  crosstabs: [{ rows: 'a', cols: 'b' }],
  survival: { time: 't', event: 'e', grid: [5, 10, 20, 30], ...(grouped ? { group: 'a' } : {}) },
});

describe('random tables, every published relation solved exactly', () => {
  const SEEDS = 120;

  it(`no withheld cell of a site's answer is determined by its published counts (${SEEDS} tables, with and without a group)`, () => {
    const leaks: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const table = randomTable(random(seed), `seed-${seed}`);
      const found = recoverWithheld(relationsOf(plainAnswer(table, randomAsk(seed % 2 === 0))));
      if (found.size > 0) leaks.push(`seed ${seed}: ${[...found].map(([k, v]) => `${k} = ${v}`).join(', ')}`);
    }
    expect(leaks).toEqual([]);
  });

  it(`no withheld cell of the secure pooled answer is determined by its published counts (${SEEDS} federations of 3)`, () => {
    const leaks: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const next = random(1000 + seed);
      const tables = [0, 1, 2].map((s) => randomTable(next, `seed-${seed}-${s}`));
      const found = recoverWithheld(relationsOf(securePooled(tables, randomAsk(seed % 2 === 0))));
      if (found.size > 0) leaks.push(`seed ${seed}: ${[...found].map(([k, v]) => `${k} = ${v}`).join(', ')}`);
    }
    expect(leaks).toEqual([]);
  });
});

describe('with DP noise on the counts', () => {
  it('rows minus the first at-risk count misses the true unusable count by noise of sd sigma x sqrt 2', () => {
    // 58 usable rows and 2 without a time: the site publishes its noisy row count and noisy curve whenever the noisy
    // `excluded` is 0 or at least k. Independent noise on each count: the subtraction carries two draws of it.
    const table: Table = {
      source: 'site',
      header: ['days', 'died'],
      rows: Array.from({ length: 60 }, (_, i) => [i < 2 ? 'NA' : String(1 + (i % 30)), i % 3 === 0 ? '1' : '0']),
    };
    const ask: CountAsk = {
      phase: 'count',
      numeric: [],
      categorical: [],
      crosstabs: [],
      survival: { time: 'days', event: 'died', grid: [10, 20, 30] },
    };
    const sigma = dp.noiseFor({ q: 1, steps: 1, delta: 1e-5, targetEpsilon: 1 }) * countSensitivity(ask);
    const next = random(7);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    const errors: number[] = [];
    for (let i = 0; i < 400; i++) {
      const noise = gaussianCountNoise(sigma, gaussian);
      const rows = rowsAnswer(table, K, noise);
      const curve = survivalAnswer(table, ask.survival as NonNullable<CountAsk['survival']>, K, noise).groups[0];
      if (rows.suppressed || !curve || curve.atRisk[0]?.suppressed) continue;
      errors.push(rows.n - (curve.atRisk[0]?.n as number) - 2);
    }
    const hits = errors.filter((e) => e === 0).length / errors.length;
    const sd = Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / errors.length);
    expect(errors.length).toBeGreaterThan(200);
    expect(sd / (sigma * Math.SQRT2)).toBeGreaterThan(0.85);
    expect(sd / (sigma * Math.SQRT2)).toBeLessThan(1.15);
    // the attacker's exact hit rate is that of a draw from N(0, 2 sigma^2), far from certainty
    expect(hits).toBeLessThan(1 / (sigma * Math.SQRT2 * Math.sqrt(2 * Math.PI)) + 0.05);
  });
});
