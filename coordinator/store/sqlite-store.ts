/** The Store on SQLite: better-sqlite3 in WAL mode, drizzle queries, committed migrations applied at open. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, asc, count, desc, eq, gt, or, sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { assertTransition } from './round-states.js';
import { canonicalJson } from '../../protocol/model-spec.js';
import { GENESIS_HASH, entryHash } from '../../crypto/audit-chain.js';
import { CohortError } from '../../protocol/errors.js';
import {
  apiTokens,
  audit,
  consents,
  federations,
  institutions,
  models,
  participations,
  rounds,
  type AuditEvent,
  type AuditRow,
} from './schema.js';
import { withConstraints } from './sqlite-errors.js';
import type { AuditQuery, AuditSigner, Store } from './store.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

function found<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw new CohortError('NOT_FOUND', `${what} does not exist`);
  return row;
}

/** `patch` without its undefined fields (null is kept: it clears a column). */
function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The WHERE clause of an audit query's filters (federation, kind, institution, text). */
function auditFilter({ federationId, kind, institution, text }: AuditQuery) {
  const escaped = text === undefined ? undefined : `%${text.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  return and(
    federationId === undefined ? undefined : eq(audit.federationId, federationId),
    kind === undefined ? undefined : eq(audit.kind, kind),
    institution === undefined
      ? undefined
      : or(eq(audit.actor, institution), eq(audit.subject, institution), eq(audit.subject, `institution:${institution}`)),
    escaped === undefined
      ? undefined
      : sql`(lower(${audit.kind} || ' ' || ${audit.actor} || ' ' || coalesce(${audit.subject}, '') || ' ' || ${audit.data}) LIKE ${escaped} ESCAPE '\\')`,
  );
}

/**
 * The lookups every upload makes (admission, intake, the audit chain's tail), built and prepared once: drizzle's
 * query building costs more than SQLite's answer.
 */
function preparedLookups(db: BetterSQLite3Database) {
  const ids = { federationId: sql.placeholder('federationId'), institutionId: sql.placeholder('institutionId') };
  return {
    latestConsentQuery: db
      .select()
      .from(consents)
      .where(and(eq(consents.federationId, ids.federationId), eq(consents.institutionId, ids.institutionId)))
      .orderBy(desc(consents.id))
      .limit(1)
      .prepare(),
    institutionQuery: db
      .select()
      .from(institutions)
      .where(and(eq(institutions.federationId, ids.federationId), eq(institutions.id, ids.institutionId)))
      .prepare(),
    auditTailQuery: db.select({ id: audit.id, hash: audit.hash }).from(audit).orderBy(desc(audit.id)).limit(1).prepare(),
  };
}

/**
 * Opens (creating if needed) the SQLite database at `path`, or an in-memory one for `':memory:'`,
 * and brings its schema up to date.
 * @example const store = openSqliteStore('./data/cohort.db'); store.listFederations();
 */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite);
  migrate(db, { migrationsFolder: MIGRATIONS });

  const transaction = <T>(fn: () => T): T => sqlite.transaction(fn)();
  let signer: AuditSigner = () => '';
  const toEvent = (row: AuditRow): AuditEvent => ({ ...row, data: JSON.parse(row.data) as Record<string, unknown> });
  const roundKey = (f: string, r: number) => and(eq(rounds.federationId, f), eq(rounds.round, r));
  const partKey = (f: string, r: number, i: string) =>
    and(eq(participations.federationId, f), eq(participations.round, r), eq(participations.institutionId, i));

  const { latestConsentQuery, institutionQuery, auditTailQuery } = preparedLookups(db);

  const store: Store = {
    createFederation: (input) => withConstraints(`federation ${input.id}`, () => db.insert(federations).values(input).returning().get()),
    getFederation: (id) => db.select().from(federations).where(eq(federations.id, id)).get(),
    listFederations: () => db.select().from(federations).orderBy(asc(federations.createdAt), asc(federations.id)).all(),
    updateFederationStatus: (id, status, at = Date.now()) =>
      found(db.update(federations).set({ status, updatedAt: at }).where(eq(federations.id, id)).returning().get(), `federation ${id}`),

    updateFederation: (id, patch) =>
      found(
        db
          .update(federations)
          .set({ ...definedOnly(patch), updatedAt: Date.now() })
          .where(eq(federations.id, id))
          .returning()
          .get(),
        `federation ${id}`,
      ),

    addConsent: (input) =>
      withConstraints(`consent ${input.consentHash.slice(0, 12)} of ${input.institutionId}`, () =>
        db.insert(consents).values(input).returning().get(),
      ),
    getConsentByHash: (consentHash) => db.select().from(consents).where(eq(consents.consentHash, consentHash)).get(),
    latestConsent: (federationId, institutionId) => latestConsentQuery.get({ federationId, institutionId }),
    listConsents: (federationId) =>
      db.select().from(consents).where(eq(consents.federationId, federationId)).orderBy(asc(consents.id)).all(),
    revokeConsent: (consentHash, patch) =>
      found(
        db
          .update(consents)
          .set({ ...patch, status: 'revoked' })
          .where(eq(consents.consentHash, consentHash))
          .returning()
          .get(),
        `consent ${consentHash.slice(0, 12)}`,
      ),

    upsertInstitution: (input) => {
      const { name, signPublicKey, boxPublicKey, fingerprint, status = 'active' } = input;
      return withConstraints(`institution ${input.id} of ${input.federationId}`, () =>
        db
          .insert(institutions)
          .values(input)
          .onConflictDoUpdate({
            target: [institutions.federationId, institutions.id],
            set: { name, signPublicKey, boxPublicKey, fingerprint, status },
          })
          .returning()
          .get(),
      );
    },
    getInstitution: (federationId, id) => institutionQuery.get({ federationId, institutionId: id }),
    listInstitutions: (federationId) =>
      db.select().from(institutions).where(eq(institutions.federationId, federationId)).orderBy(asc(institutions.id)).all(),
    touchInstitution: (federationId, id, at = Date.now()) => {
      db.update(institutions)
        .set({ lastSeenAt: at })
        .where(and(eq(institutions.federationId, federationId), eq(institutions.id, id)))
        .run();
    },

    createRound: (input) =>
      withConstraints(`round ${input.round} of ${input.federationId}`, () => db.insert(rounds).values(input).returning().get()),
    getRound: (federationId, round) => db.select().from(rounds).where(roundKey(federationId, round)).get(),
    updateRound: (federationId, round, patch) =>
      transaction(() => {
        const what = `round ${round} of ${federationId}`;
        const current = found(store.getRound(federationId, round), what);
        if (patch.state !== undefined && patch.state !== current.state) assertTransition(current.state, patch.state);
        const changes = definedOnly(patch);
        if (Object.keys(changes).length === 0) return current;
        return found(db.update(rounds).set(changes).where(roundKey(federationId, round)).returning().get(), what);
      }),
    listRounds: (federationId) => db.select().from(rounds).where(eq(rounds.federationId, federationId)).orderBy(asc(rounds.round)).all(),
    latestRound: (federationId) =>
      db.select().from(rounds).where(eq(rounds.federationId, federationId)).orderBy(desc(rounds.round)).limit(1).get(),

    addParticipation: (input) =>
      withConstraints(`participation of ${input.institutionId} in round ${input.round} of ${input.federationId}`, () =>
        db.insert(participations).values(input).returning().get(),
      ),
    updateParticipation: (federationId, round, institutionId, patch) =>
      found(
        db
          .update(participations)
          .set({ updatedAt: Date.now(), ...definedOnly(patch) })
          .where(partKey(federationId, round, institutionId))
          .returning()
          .get(),
        `participation of ${institutionId} in round ${round} of ${federationId}`,
      ),
    getParticipation: (federationId, round, institutionId) =>
      db
        .select()
        .from(participations)
        .where(partKey(federationId, round, institutionId))
        .get(),
    listParticipations: (federationId, round) =>
      db
        .select()
        .from(participations)
        .where(
          round === undefined
            ? eq(participations.federationId, federationId)
            : and(eq(participations.federationId, federationId), eq(participations.round, round)),
        )
        .orderBy(asc(participations.round), asc(participations.id))
        .all(),

    insertModel: (input) =>
      withConstraints(`model version ${input.version} of ${input.federationId}`, () => db.insert(models).values(input).returning().get()),
    getModel: (federationId, version) =>
      db
        .select()
        .from(models)
        .where(and(eq(models.federationId, federationId), eq(models.version, version)))
        .get(),
    latestModel: (federationId) =>
      db.select().from(models).where(eq(models.federationId, federationId)).orderBy(desc(models.version)).limit(1).get(),
    listModels: (federationId) => db.select().from(models).where(eq(models.federationId, federationId)).orderBy(asc(models.version)).all(),
    setModelCard: (federationId, version, card, cardSignature) =>
      found(
        db
          .update(models)
          .set({ card, cardSignature })
          .where(and(eq(models.federationId, federationId), eq(models.version, version)))
          .returning()
          .get(),
        `model version ${version} of ${federationId}`,
      ),

    appendAudit: ({ ts = Date.now(), federationId = null, subject = null, kind, actor, data }) =>
      transaction(() => {
        const last = auditTailQuery.get();
        const id = (last?.id ?? 0) + 1;
        const prevHash = last?.hash ?? GENESIS_HASH;
        const canonicalData = canonicalJson(data);
        const body = canonicalJson({
          seq: id,
          ts,
          federation: federationId,
          kind,
          actor,
          subject,
          data: JSON.parse(canonicalData) as unknown,
        });
        const hash = entryHash(prevHash, body);
        const row = { id, ts, federationId, kind, actor, subject, data: canonicalData, prevHash, hash, signature: signer(hash) };
        return toEvent(db.insert(audit).values(row).returning().get());
      }),
    setAuditSigner: (fn) => {
      signer = fn;
    },
    listAuditRows: (afterId = 0, limit = 10_000) =>
      db.select().from(audit).where(gt(audit.id, afterId)).orderBy(asc(audit.id)).limit(limit).all(),
    listAudit: (query = {}) => {
      const { afterId, limit, offset, order } = query;
      const q = db
        .select()
        .from(audit)
        .where(and(auditFilter(query), afterId === undefined ? undefined : gt(audit.id, afterId)))
        .orderBy(order === 'desc' ? desc(audit.id) : asc(audit.id));
      const rows =
        limit === undefined && !offset
          ? q.all()
          : q
              .limit(limit ?? Number.MAX_SAFE_INTEGER)
              .offset(offset ?? 0)
              .all();
      return rows.map(toEvent);
    },
    countAudit: (query = {}) => db.select({ n: count() }).from(audit).where(auditFilter(query)).get()?.n ?? 0,

    createApiToken: (input) => withConstraints(`API token ${input.id}`, () => db.insert(apiTokens).values(input).returning().get()),
    getApiToken: (id) => db.select().from(apiTokens).where(eq(apiTokens.id, id)).get(),
    getApiTokenByHash: (hash) => db.select().from(apiTokens).where(eq(apiTokens.hash, hash)).get(),
    listApiTokens: () => db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id)).all(),
    revokeApiToken: (id, at = Date.now()) =>
      found(db.update(apiTokens).set({ revokedAt: at }).where(eq(apiTokens.id, id)).returning().get(), `API token ${id}`),
    touchApiToken: (id, at = Date.now()) => {
      db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
    },

    transaction,
    close: () => {
      sqlite.close();
    },
  };
  return store;
}
