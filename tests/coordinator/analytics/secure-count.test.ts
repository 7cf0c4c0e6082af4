/**
 * Secure aggregation of counts, with the coordinator as the adversary: it sees only masked vectors (none reads as a
 * site's counts), their sum is exactly the plain pooled counts, a site whose own key the coordinator replaces refuses,
 * so does one given another site's key that the enrolled identity of that site did not sign,
 * a site that drops makes the others mask afresh, and the pooled figure is suppressed at the largest k.
 */
import { describe, expect, it } from 'vitest';
import {
  defaultRandom,
  fingerprint,
  fromBase64,
  generateIdentity,
  secagg,
  signDocument,
  toBase64,
  type Identity,
} from '../../../crypto/index.js';
import { runStats, type StatsDeps } from '../../../coordinator/analytics/index.js';
import {
  maskKeyStatement,
  secureLayout,
  type CountAsk,
  type StatsAnswerBody,
  type StatsQuery,
  type StatsReply,
} from '../../../protocol/index.js';
import { answerStatsQuery, secureCounts, type StatsSite, type Table } from '../../../node-agent/analytics/index.js';
import { analyticsSite, study } from '../policy/fixtures.js';

const identities = [0, 1, 2].map((i) => generateIdentity(`hospital-${i}`));
/** The study enrols the three sites: each checks the others' mask keys against these. */
const manifest = study({ institutions: identities.map((i) => ({ id: i.id, fingerprint: fingerprint(i.signPublicKey) })) });
const sizes = [40, 70, 3];
const tables: Table[] = sizes.map((n, s) => ({
  source: `site-${s}`,
  header: ['age', 'days', 'died'],
  rows: Array.from({ length: n }, (_, i) => [
    i % 7 === 0 ? 'NA' : String(20 + ((i * 13 + s) % 60)),
    String(1 + ((i * 7) % 30)),
    String(i % 3 === 0 ? 1 : 0),
  ]),
}));

function sites(minCell = 5): { identity: Identity; site: StatsSite }[] {
  return tables.map((table, i) =>
    analyticsSite(manifest, identities[i] as Identity, table, {
      requireSecureAggregation: i === 0,
      minOtherInstitutions: 1,
      minCellSize: minCell + i,
    }),
  );
}

/** The coordinator's side: real runStats; `send` answers in process, recording every reply the coordinator receives. */
function coordinator(all: { identity: Identity; site: StatsSite }[], drop?: (site: string, q: StatsQuery) => boolean) {
  const seen: { site: string; query: StatsQuery; reply: StatsReply }[] = [];
  const audit: { kind: string; data: Record<string, unknown> }[] = [];
  const deps: StatsDeps = {
    federation: manifest.federation,
    eligible: () => ({ ask: all.map((s) => s.identity.id), skip: {} }),
    async send(site, query) {
      if (drop?.(site, query)) throw new Error('disconnected');
      const reply = answerStatsQuery(all.find((s) => s.identity.id === site)?.site as StatsSite, query);
      seen.push({ site, query, reply });
      return reply;
    },
    signKey: (site) => all.find((s) => s.identity.id === site)?.identity.signPublicKey,
    audit: (kind, data) => audit.push({ kind, data }),
  };
  return { deps, seen, audit };
}

const request = {
  columns: ['age'],
  edges: { age: [0, 40, 60, 80] },
  survival: { time: 'days', event: 'died', grid: [10, 20, 30] },
  secure: true,
};
const countAsk: CountAsk = {
  phase: 'count',
  numeric: [{ column: 'age', edges: [0, 40, 60, 80] }],
  categorical: [],
  crosstabs: [],
  survival: { time: 'days', event: 'died', grid: [10, 20, 30] },
};

describe('secure aggregation of counts against the coordinator', () => {
  it('shows the coordinator only masked vectors whose sum is the plain pooled counts', async () => {
    const all = sites();
    const { deps, seen } = coordinator(all);
    const result = await runStats(deps, request, 'token:test');

    const counts = seen.filter((s) => s.query.ask.phase === 'count');
    expect(counts).toHaveLength(3);
    const plain = tables.map((t) => secureCounts(t, countAsk));
    const masked = counts.map((c) => secagg.wordsFromBytes(fromBase64((c.reply as { body: StatsAnswerBody }).body.masked as string)));
    masked.forEach((m, i) => {
      const own = plain[all.findIndex((s) => s.identity.id === counts[i]?.site)] as Uint32Array;
      // no word of a masked vector equals the site's count (a uniform u32 hits a small count with probability ~1e-9)
      expect(m.some((w, j) => w === own[j])).toBe(false);
      const body = (counts[i]?.reply as { body: StatsAnswerBody }).body;
      expect(body.numeric).toBeUndefined();
      expect(body.survival).toBeUndefined();
      expect(body.rows).toEqual({ n: 0, suppressed: true });
    });
    const sum = secagg.sumMasked(masked);
    expect([...sum]).toEqual([...secagg.sumMasked(plain)]);

    const layout = secureLayout(countAsk);
    const age = result.columns.age as { count: number; missing: number; histogram: { counts: number[] } };
    expect(age.count).toBe(sum[layout.numeric[0]?.present as number]);
    expect(result.secure).toMatchObject({ attempts: 1, minCellSize: 7, rows: 113 });
    expect(Object.values(result.sites).every((s) => s.suppressed)).toBe(true); // no per-site rows in stats.json
    expect(result.survival?.curves[0]?.atRisk[0]).toBe(113);
  });

  it('suppresses pooled cells below the largest k of the sites (here 7), and says the pool lacks them', async () => {
    const { deps } = coordinator(sites());
    const result = await runStats(deps, { ...request, edges: { age: [0, 21, 40, 60, 80] } }, 'token:test');
    const age = result.columns.age as { histogram: { counts: number[] }; incomplete?: boolean; incompleteSites?: string[] };
    // ages 20 appear in few rows: the [0, 21) pooled bin is 1..6 and withheld, with a second cell so the total does not give it back
    const fine: CountAsk = { ...countAsk, numeric: [{ column: 'age', edges: [0, 21, 40, 60, 80] }] };
    const plain = secagg.sumMasked(tables.map((t) => secureCounts(t, fine)));
    const first = plain[(secureLayout(fine).numeric[0]?.histogram as number) + 1] as number;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(7);
    expect(age.histogram.counts[0]).toBe(0);
    expect(age.incompleteSites).toEqual(['(pooled)']);
  });

  it("refuses when the coordinator replaces a site's own key, swaps another site's key, or asks one site alone", () => {
    const [a, b] = sites();
    const idA = a?.identity.id as string;
    const idB = b?.identity.id as string;
    const describe = (s: StatsSite) =>
      (
        answerStatsQuery(s, {
          id: 'query-0000001',
          federation: manifest.federation,
          secure: { attempt: 0 },
          ask: { phase: 'describe', columns: ['age'] },
        }) as { body: StatsAnswerBody }
      ).body;
    const bodyA = describe(a?.site as StatsSite);
    const bodyB = describe(b?.site as StatsSite);
    const keyA = bodyA.maskKey as string;
    const keyB = bodyB.maskKey as string;
    const proof = (identity: Identity, signature: string) => ({ signPublicKey: toBase64(identity.signPublicKey), signature });
    const honest = { [idB]: proof(b?.identity as Identity, bodyB.maskKeySignature as string) };
    const count = (peers: Record<string, string>, signed: Record<string, { signPublicKey: string; signature: string }> = honest) =>
      answerStatsQuery(a?.site as StatsSite, {
        id: 'query-0000001',
        federation: manifest.federation,
        secure: { attempt: 0, peers, signed },
        ask: countAsk,
      });
    expect(count({ [idA]: keyB, [idB]: keyB })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(count({ [idA]: keyA })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(count({ [idA]: keyA, [idB]: keyB })).toMatchObject({ ok: true });

    // The coordinator puts its own X25519 key in B's place (it would then know A's masks toward B): B never signed it.
    const mitm = toBase64(secagg.generateX25519(defaultRandom).publicKey);
    expect(count({ [idA]: keyA, [idB]: mitm })).toMatchObject({ ok: false, error: { code: 'BAD_SIGNATURE' } });
    // ... and signs it with an identity of its own: not the key the study enrols for B.
    const sybil = generateIdentity(idB);
    const forged = signDocument(
      maskKeyStatement({ federation: manifest.federation, queryId: 'query-0000001', institution: idB, maskKey: mitm }),
      sybil.signSecretKey,
    );
    expect(count({ [idA]: keyA, [idB]: mitm }, { [idB]: proof(sybil, forged) })).toMatchObject({
      ok: false,
      error: { code: 'SECAGG_PARTICIPANT_UNKNOWN' },
    });
    // ... or leaves the proofs out.
    expect(count({ [idA]: keyA, [idB]: keyB }, {})).toMatchObject({ ok: false, error: { code: 'SECAGG_PARTICIPANT_UNKNOWN' } });
  });

  it('a site whose consent requires secure aggregation refuses a plain query', () => {
    const [a] = sites();
    const reply = answerStatsQuery(a?.site as StatsSite, { id: 'query-0000002', federation: manifest.federation, ask: countAsk });
    expect(reply).toMatchObject({ ok: false, error: { code: 'CONSENT_PRIVACY_MISMATCH' } });
  });

  it('asks the survivors again with fresh masks when a site drops after the keys, and pools them exactly', async () => {
    const all = sites();
    const dropped = all[2]?.identity.id;
    const { deps, seen, audit } = coordinator(all, (site, q) => site === dropped && q.ask.phase === 'count');
    const result = await runStats(deps, request, 'token:test');
    expect(result.secure).toMatchObject({ attempts: 2, sites: [all[0]?.identity.id, all[1]?.identity.id] });
    expect(result.refused[dropped as string]?.code).toBe('NO_ANSWER');
    expect(audit.some((e) => e.kind === 'stats.secure-retry')).toBe(true);
    const second = seen
      .filter((s) => s.query.secure?.attempt === 1)
      .map((s) => secagg.wordsFromBytes(fromBase64((s.reply as { body: StatsAnswerBody }).body.masked as string)));
    expect([...secagg.sumMasked(second)]).toEqual([
      ...secagg.sumMasked([secureCounts(tables[0] as Table, countAsk), secureCounts(tables[1] as Table, countAsk)]),
    ]);
    expect(result.survival?.curves[0]?.atRisk[0]).toBe(110);
  });
});
