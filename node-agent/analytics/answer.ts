/** The agent's side of a stats query: its own consent decides (analytics allowed, minimum cell size), then it counts, suppresses and signs. */
import {
  ConsentRefusal,
  DEFAULT_MIN_CELL_SIZE,
  StatsQuerySchema,
  maskKeyStatement,
  consentCovers,
  type SignedConsent,
  type StudyManifest,
  type StatsAnswerBody,
  type StatsReply,
  type ErrorCode,
} from '../../protocol/index.js';
import { dp, secagg, signDocument, toBase64, defaultRandom, type Identity, type RandomSource } from '../../crypto/index.js';
import { checkAgainstDictionary } from './check.js';
import { describeColumn, withNames } from './describe.js';
import { NO_NOISE, chargeNoise, gaussianCountNoise, planNoise, type CountNoise } from './noise.js';
import { maskedAnswer, secureCountRefusal, secureCounts } from './secure-answer.js';
import { numericAnswer, rowsAnswer, tablesAnswer } from './site-counts.js';
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
  /** The privacy ledger beside the consent (`<consent>.ledger.json`): DP answers are charged here, as training is. */
  ledgerFile?: string;
  /** Secure aggregation: this site's X25519 key pair per query id (made in the describe phase, kept in memory). */
  maskKeys?: Map<string, secagg.X25519KeyPair>;
  random?: RandomSource;
  gaussian?: dp.GaussianSource;
}

/** How many queries' mask keys a site keeps (the oldest is forgotten first). */
const MAX_MASK_KEYS = 64;

/**
 * The minimum cell size this site applies: its consent's (default 5), or the asker's when that is larger. The
 * coordinator can only raise it.
 * @example appliedMinCellSize(consent, 1) // 5
 */
export function appliedMinCellSize(consent: SignedConsent, asked: number | undefined): number {
  return Math.max(consent.body.limits.minCellSize ?? DEFAULT_MIN_CELL_SIZE, asked ?? 1);
}

const refuse = (code: ErrorCode, message: string): StatsReply => ({ ok: false, error: { code, message } });

/** Why this site will not answer, or null. */
function consentRefusal(
  site: StatsSite,
  federation: string,
): { code: ErrorCode; message: string } | { consent: SignedConsent; manifest: StudyManifest } {
  if (federation !== site.federation)
    return { code: 'WRONG_FEDERATION', message: `query for federation ${federation}, this agent serves ${site.federation}` };
  const { consent, revocation } = site.consent();
  if (!consent)
    return { code: 'CONSENT_MISSING', message: 'no consent at this site (sign one with `cohort consent grant --uses analytics`)' };
  const manifest = site.study();
  if (!manifest) return { code: 'NOT_READY', message: 'no session with the coordinator yet' };
  const covered = consentCovers(consent.body, { manifest, use: 'analytics', now: new Date(), revoked: revocation !== undefined });
  if (!covered.ok) return covered;
  return { consent, manifest };
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
  const secure = query.secure;
  if (verdict.consent.body.limits.requireSecureAggregation && !secure && query.ask.phase !== 'check')
    return refuse(
      ConsentRefusal.PRIVACY,
      'this site answers analytics only under secure aggregation (its consent requires it): ask with secure',
    );
  const keys = site.maskKeys ?? new Map<string, secagg.X25519KeyPair>();
  const { ask } = query;
  let noise: CountNoise = NO_NOISE;
  let plan: ReturnType<typeof planNoise> = { ok: true };
  if (ask.phase === 'count') {
    const unsafe = secure ? secureCountRefusal(site.identity.id, { ...query, ask, secure }, keys.get(query.id), verdict.manifest) : null;
    if (unsafe) return refuse(unsafe.code, unsafe.message);
    plan = planNoise({
      consent: verdict.consent,
      study: verdict.manifest,
      ask,
      askedEpsilon: query.epsilon,
      ledgerFile: site.ledgerFile,
      queryId: query.id,
    });
    if (!plan.ok) return refuse(plan.code, plan.message);
    if (plan.dp) noise = gaussianCountNoise(plan.dp.sigma, site.gaussian ?? dp.cryptoGaussian(site.random ?? defaultRandom));
  }
  let body: StatsAnswerBody;
  try {
    body = {
      format: 'cohort-stats-answer/v1',
      queryId: query.id,
      federation: query.federation,
      institution: site.identity.id,
      minCellSize: k,
      // Under secure aggregation not even the row count leaves in the clear.
      rows: secure ? { n: 0, suppressed: true } : rowsAnswer(table, k, noise),
    };
    if (ask.phase === 'check') {
      const dictionary = verdict.manifest.data.dictionary;
      if (!dictionary) return refuse('BAD_REQUEST', 'the study has no data dictionary to check against (coordinator start --dictionary)');
      body.check = checkAgainstDictionary(table, dictionary, k);
    } else if (ask.phase === 'describe') {
      body.columns = (ask.columns.length > 0 ? ask.columns : table.header).map((c) => describeColumn(table, c, k));
      // Under secure aggregation the names are agreed before masking: the ones a plain answer would publish.
      if (secure) body.columns = body.columns.map((c) => withNames(table, c, k, ask.names ?? []));
      if (secure) {
        const pair = secagg.generateX25519(site.random ?? defaultRandom);
        keys.set(query.id, pair);
        if (keys.size > MAX_MASK_KEYS) keys.delete(keys.keys().next().value as string);
        body.maskKey = toBase64(pair.publicKey);
        const statement = { federation: query.federation, queryId: query.id, institution: site.identity.id, maskKey: body.maskKey };
        body.maskKeySignature = signDocument(maskKeyStatement(statement), site.identity.signSecretKey);
      }
    } else if (secure) {
      const pair = keys.get(query.id) as secagg.X25519KeyPair;
      const counts = secureCounts(table, ask, noise);
      const args = {
        me: site.identity.id,
        secretKey: pair.secretKey,
        peers: secure.peers ?? {},
        federation: query.federation,
        queryId: query.id,
      };
      body.masked = maskedAnswer(counts, { ...args, attempt: secure.attempt });
    } else {
      // A column this site does not hold is left out (the pooled figure is over the sites that hold it).
      const held = (c: string) => table.header.includes(c);
      body.numeric = ask.numeric.filter((n) => held(n.column)).map((n) => numericAnswer(table, n.column, n.edges, k, noise));
      // Suppressed together: a crosstab's row and column sums are the categorical counts of its variables.
      const crosstabs = ask.crosstabs.filter((x) => held(x.rows) && held(x.cols));
      ({ categorical: body.categorical, crosstabs: body.crosstabs } = tablesAnswer(
        table,
        ask.categorical.filter(held),
        crosstabs,
        k,
        noise,
      ));
      if (ask.survival) body.survival = survivalAnswer(table, ask.survival, k, noise);
    }
    if (plan.ok && plan.dp) body.dp = plan.dp;
  } catch (err) {
    return refuse('BAD_REQUEST', (err as Error).message);
  }
  // Charged before the answer leaves (a lost acknowledgement still counts), as a training update is.
  if (plan.ok && plan.entry && site.ledgerFile) chargeNoise(site.ledgerFile, plan.entry);
  return { ok: true, body, signature: signDocument(body, site.identity.signSecretKey) };
}
