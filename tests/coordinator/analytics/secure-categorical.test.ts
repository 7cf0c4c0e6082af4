/**
 * Secure aggregation of categorical columns, crosstabs and survival groups, with the coordinator as the adversary:
 * the names are agreed in the describe phase (each site lists what it holds in at least k rows), every site masks one
 * vector over the sorted agreed names; the coordinator sees only masked vectors, and the pooled counts equal the plain
 * pooled counts where no cell is suppressed. A category rare at one site but named at another is counted by name
 * (the plain path folds it into "(other)" there), and a name rare at every site is never listed.
 */
import { describe, expect, it } from 'vitest';
import { fingerprint, fromBase64, generateIdentity, secagg, type Identity } from '../../../crypto/index.js';
import { runStats, type StatsDeps } from '../../../coordinator/analytics/index.js';
import type { StatsAnswerBody, StatsQuery, StatsReply } from '../../../protocol/index.js';
import { answerStatsQuery, secureCounts, type StatsSite, type Table } from '../../../node-agent/analytics/index.js';
import { analyticsSite, study } from '../policy/fixtures.js';

const identities = [0, 1, 2].map((i) => generateIdentity(`clinic-${i}`));
/** The study enrols the three sites: each checks the others' mask keys against these. */
const manifest = study({ institutions: identities.map((i) => ({ id: i.id, fingerprint: fingerprint(i.signPublicKey) })) });
const K = 5;

/** Site 2 says "vape" where the others say "former"; with `rare`, site 1 has 2 "vape" rows, sites 0 and 1 have 2 and 3 "cigar" rows. */
function tables(rare = false): Table[] {
  const smoking = (s: number, i: number) => {
    if (rare && s === 1 && i < 2) return 'vape';
    if (rare && ((s === 0 && i < 2) || (s === 1 && i >= 2 && i < 5))) return 'cigar';
    return ['never', s === 2 ? 'vape' : 'former', 'current'][i % 3] as string;
  };
  return [60, 90, 45].map((n, s) => ({
    source: `site-${s}`,
    header: ['smoking', 'sex', 'days', 'died'],
    rows: Array.from({ length: n }, (_, i) => [
      smoking(s, i),
      i % 2 === 0 ? 'F' : 'M',
      String(1 + ((i * 7) % 30)),
      String(i % 4 === 0 ? 1 : 0),
    ]),
  }));
}

function sites(data: Table[]): { identity: Identity; site: StatsSite }[] {
  return data.map((table, i) =>
    analyticsSite(manifest, identities[i] as Identity, table, { requireSecureAggregation: false, minOtherInstitutions: 1, minCellSize: K }),
  );
}

/** The real runStats; `send` answers in process and records every query and reply the coordinator handles. */
function coordinator(all: { identity: Identity; site: StatsSite }[]) {
  const seen: { site: string; query: StatsQuery; reply: StatsReply }[] = [];
  const deps: StatsDeps = {
    federation: manifest.federation,
    eligible: () => ({ ask: all.map((s) => s.identity.id), skip: {} }),
    async send(site, query) {
      const reply = answerStatsQuery(all.find((s) => s.identity.id === site)?.site as StatsSite, query);
      seen.push({ site, query, reply });
      return reply;
    },
    signKey: (site) => all.find((s) => s.identity.id === site)?.identity.signPublicKey,
    audit: () => undefined,
  };
  return { deps, seen };
}

const request = {
  columns: ['smoking'],
  crosstabs: [{ rows: 'smoking', cols: 'sex' }],
  survival: { time: 'days', event: 'died', group: 'smoking', grid: [10, 20] },
};
const body = (r: StatsReply) => (r as { body: StatsAnswerBody }).body;

describe('secure aggregation of categorical columns, crosstabs and survival groups', () => {
  it('agrees the names first, shows the coordinator only masked vectors, and pools exactly what the plain path pools', async () => {
    const data = tables();
    const all = sites(data);
    const secure = coordinator(all);
    const result = await runStats(secure.deps, { ...request, secure: true }, 'token:test');
    const plain = await runStats(coordinator(all).deps, request, 'token:test');

    const counts = secure.seen.filter((s) => s.query.ask.phase === 'count');
    expect(counts).toHaveLength(3);
    const ask = counts[0]?.query.ask as Extract<StatsQuery['ask'], { phase: 'count' }>;
    expect(ask.vocabulary).toEqual({ smoking: ['current', 'former', 'never', 'vape'], sex: ['F', 'M'] });
    for (const c of counts) {
      const b = body(c.reply);
      expect([b.categorical, b.crosstabs, b.survival]).toEqual([undefined, undefined, undefined]);
      const own = secureCounts(data[all.findIndex((s) => s.identity.id === c.site)] as Table, ask);
      const masked = secagg.wordsFromBytes(fromBase64(b.masked as string));
      expect(masked).toHaveLength(own.length);
      expect(masked.some((w, j) => w === own[j])).toBe(false);
    }

    // the plain run withholds nothing here, so the pooled figures must match it exactly
    expect(plain.columns.smoking).not.toHaveProperty('incomplete');
    expect(result.columns.smoking).toEqual(plain.columns.smoking);
    expect((result.columns.smoking as { counts: Record<string, number> }).counts.vape).toBe(15);
    expect(plain.crosstabs[0]?.incomplete).toBeUndefined();
    const cell = (x: (typeof plain.crosstabs)[0] | undefined, r: string, c: string) =>
      x?.cells[x.rowNames.indexOf(r)]?.[x.colNames.indexOf(c)];
    for (const r of ['current', 'former', 'never', 'vape'])
      for (const c of ['F', 'M']) expect(cell(result.crosstabs[0], r, c)).toBe(cell(plain.crosstabs[0], r, c));
    expect(result.crosstabs[0]?.incomplete).toBeUndefined();

    expect(plain.survival?.curves.every((c) => c.incomplete === undefined)).toBe(true);
    const curves = (r: typeof plain) => r.survival?.curves.map((c) => [c.group, c.atRisk, c.events]);
    expect(curves(result)).toEqual(curves(plain));
    expect(result.survival?.logRank?.pValue).toBeCloseTo(plain.survival?.logRank?.pValue as number, 12);
  });

  it('counts a category rare at one site under the name another site gave it; a name rare everywhere is never listed', async () => {
    const data = tables(true);
    const { deps, seen } = coordinator(sites(data));
    const result = await runStats(deps, { ...request, secure: true }, 'token:test');
    const listed = seen.filter((s) => s.query.ask.phase === 'describe').flatMap((s) => body(s.reply).columns ?? []);
    expect(listed.some((c) => c.categories?.includes('cigar'))).toBe(false);
    // site 1's two "vape" rows (fewer than k there) join site 2's 15 under the agreed name
    const smoking = result.columns.smoking as { counts: Record<string, number>; incompleteSites?: string[] };
    expect(smoking.counts.vape).toBe(17);
    expect(smoking.counts.cigar).toBeUndefined();
    // 2 + 3 "cigar" rows (fewer than k at each site, never named) pool under (other): 5 = k, released
    expect(smoking.counts['(other)']).toBe(5);
    expect(smoking.incompleteSites).toBeUndefined();
    // the plain path folds site 1's 2 "vape" rows into that site's "(other)": its pooled "vape" is site 2's 15 alone
    const plain = await runStats(coordinator(sites(data)).deps, request, 'token:test');
    expect((plain.columns.smoking as { counts: Record<string, number> }).counts.vape).toBe(15);
  });
});
