/** The agent's side of a stats query: its own consent decides (analytics allowed, minimum cell size), then it counts, suppresses and signs. */
import {
  DEFAULT_MIN_CELL_SIZE,
  StatsQuerySchema,
  consentCovers,
  type SignedConsent,
  type StudyManifest,
  type StatsAnswerBody,
  type StatsReply,
} from '../../protocol/index.js';
import { signDocument, type Identity } from '../../crypto/index.js';
import { describeColumn } from './describe.js';
import { categoricalAnswer, crosstabAnswer, numericAnswer, rowsAnswer } from './site-counts.js';
import { survivalAnswer } from './site-survival.js';
import type { Table } from './table.js';

export interface StatsSite {
  identity: Identity;
  federation: string;
  /** The consent as read now (a revoked or absent one refuses). */
  consent: () => { consent?: SignedConsent; revocation?: unknown };
  /** The study the coordinator announced at the session's welcome (undefined before it). */
  study: () => StudyManifest | undefined;
  table: () => Table;
}

/**
 * The minimum cell size this site applies: its consent's (default 5), or the asker's when that is larger. The
 * coordinator can only raise it.
 * @example appliedMinCellSize(consent, 1) // 5
 */
export function appliedMinCellSize(consent: SignedConsent, asked: number | undefined): number {
  return Math.max(consent.body.limits.minCellSize ?? DEFAULT_MIN_CELL_SIZE, asked ?? 1);
}

const refuse = (code: string, message: string): StatsReply => ({ ok: false, error: { code, message } });

/** Why this site will not answer, or null. */
function consentRefusal(site: StatsSite, federation: string): { code: string; message: string } | { consent: SignedConsent } {
  if (federation !== site.federation)
    return { code: 'WRONG_FEDERATION', message: `query for federation ${federation}, this agent serves ${site.federation}` };
  const { consent, revocation } = site.consent();
  if (!consent)
    return { code: 'CONSENT_MISSING', message: 'no consent at this site (sign one with `cohort consent grant --uses analytics`)' };
  const manifest = site.study();
  if (!manifest) return { code: 'NOT_READY', message: 'no session with the coordinator yet' };
  const covered = consentCovers(consent.body, { manifest, use: 'analytics', now: new Date(), revoked: revocation !== undefined });
  if (!covered.ok) return covered;
  return { consent };
}

/**
 * Answers one query (raw, validated here): a refusal, or the counts with every small cell suppressed, signed by the site.
 * @example const reply = answerStatsQuery(site, raw); if (reply.ok) verifyDocument(reply.body, reply.signature, key)
 */
export function answerStatsQuery(site: StatsSite, raw: unknown): StatsReply {
  const parsed = StatsQuerySchema.safeParse(raw);
  if (!parsed.success)
    return refuse(
      'BAD_REQUEST',
      `malformed stats query: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
    );
  const query = parsed.data;
  const verdict = consentRefusal(site, query.federation);
  if (!('consent' in verdict)) return refuse(verdict.code, verdict.message);
  const k = appliedMinCellSize(verdict.consent, query.minCellSize);
  let table: Table;
  try {
    table = site.table();
  } catch (err) {
    return refuse('NO_ANALYTICS_DATA', (err as Error).message);
  }
  let body: StatsAnswerBody;
  try {
    body = {
      format: 'cohort-stats-answer/v1',
      queryId: query.id,
      federation: query.federation,
      institution: site.identity.id,
      minCellSize: k,
      rows: rowsAnswer(table, k),
    };
    const { ask } = query;
    if (ask.phase === 'describe') {
      body.columns = (ask.columns.length > 0 ? ask.columns : table.header).map((c) => describeColumn(table, c, k));
    } else {
      // A column this site does not hold is left out (the pooled figure is over the sites that hold it).
      const held = (c: string) => table.header.includes(c);
      body.numeric = ask.numeric.filter((n) => held(n.column)).map((n) => numericAnswer(table, n.column, n.edges, k));
      body.categorical = ask.categorical.filter(held).map((c) => categoricalAnswer(table, c, k));
      body.crosstabs = ask.crosstabs.filter((x) => held(x.rows) && held(x.cols)).map((x) => crosstabAnswer(table, x.rows, x.cols, k));
      if (ask.survival) body.survival = survivalAnswer(table, ask.survival, k);
    }
  } catch (err) {
    return refuse('BAD_REQUEST', (err as Error).message);
  }
  return { ok: true, body, signature: signDocument(body, site.identity.signSecretKey) };
}
