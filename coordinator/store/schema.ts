/** The coordinator's SQLite schema as drizzle tables: the one source of truth for migrations and row types. */
import { foreignKey, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { ModelSpec } from '../../protocol/model-spec.js';
import type { LocalMetrics } from '../../protocol/messages.js';
import type { RoundRules } from '../config.js';
import type { ConsentBody, RevocationBody, StudyManifest } from '../../protocol/study.js';
import type { Policy } from '../policy/policy.js';
import type { RuleDecision } from '../policy/rules.js';
import type { RoundState } from './round-states.js';

/** How a federation runs: round count, selection, timeouts, local training and aggregation strategy. */
export type FederationConfig = RoundRules;

/** Aggregate metrics of a closed round (sample-weighted over its participants). */
export interface RoundMetrics {
  participants: number;
  samples: number;
  trainLoss: number;
  /** Absent for regression (no accuracy). */
  trainAccuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  /** The task's other validation scores (binary, multilabel, regression), sample-weighted over the sites that reported them. */
  valAuc?: number;
  valSensitivity?: number;
  valSpecificity?: number;
  valBrier?: number;
  valMacroF1?: number;
  valMae?: number;
  valRmse?: number;
  valR2?: number;
  /** Differential privacy spent so far, this round included (absent without DP). */
  epsilon?: number;
  delta?: number;
  /** The DP clip norm sites used this round, and (adaptive clipping) the one the next round uses. */
  clipNorm?: number;
  nextClipNorm?: number;
  /** The bound on each update's L2 distance from the global model this round applied, and the median of its accepted updates' (3 or more). */
  updateNormBound?: number;
  updateNormMedian?: number;
  /** The median of the valAccuracy the evaluating sites reported for the candidate (the regression guard's reference once published). */
  siteValAccuracyMedian?: number;
  /** Regression tasks: the median of the valR2 the evaluating sites reported (the guard's reference). */
  siteValR2Median?: number;
  /** A loss headline metric's median (lower is better; no task uses it by default). */
  siteValLossMedian?: number;
}

export type FederationStatus = 'created' | 'running' | 'completed' | 'failed';
export type InstitutionStatus = 'active' | 'suspended';
export type ConsentStatus = 'active' | 'revoked';
export type ParticipationStatus = 'selected' | 'accepted' | 'refused' | 'declined' | 'dropped';

export const federations = sqliteTable('federations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  spec: text('spec', { mode: 'json' }).$type<ModelSpec>().notNull(),
  config: text('config', { mode: 'json' }).$type<FederationConfig>().notNull(),
  manifest: text('manifest', { mode: 'json' }).$type<StudyManifest>().notNull(),
  manifestHash: text('manifest_hash').notNull(),
  policy: text('policy', { mode: 'json' }).$type<Policy>().notNull(),
  policyHash: text('policy_hash').notNull(),
  status: text('status').$type<FederationStatus>().notNull().default('created'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const institutions = sqliteTable(
  'institutions',
  {
    federationId: text('federation_id')
      .notNull()
      .references(() => federations.id),
    id: text('id').notNull(),
    name: text('name').notNull(),
    signPublicKey: text('sign_public_key').notNull(),
    boxPublicKey: text('box_public_key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    status: text('status').$type<InstitutionStatus>().notNull().default('active'),
    enrolledAt: integer('enrolled_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
  },
  (t) => [primaryKey({ columns: [t.federationId, t.id] })],
);

export const rounds = sqliteTable(
  'rounds',
  {
    federationId: text('federation_id')
      .notNull()
      .references(() => federations.id),
    round: integer('round').notNull(),
    state: text('state').$type<RoundState>().notNull(),
    baseVersion: integer('base_version').notNull(),
    resultVersion: integer('result_version'),
    deadline: integer('deadline').notNull(),
    minParticipants: integer('min_participants').notNull(),
    selected: text('selected', { mode: 'json' }).$type<string[]>().notNull(),
    startedAt: integer('started_at').notNull(),
    closedAt: integer('closed_at'),
    reason: text('reason'),
    metrics: text('metrics', { mode: 'json' }).$type<RoundMetrics>(),
    /** The policy in force when the round started (its hash), and every rule's result. */
    policyHash: text('policy_hash'),
    decisions: text('decisions', { mode: 'json' }).$type<RuleDecision[]>(),
  },
  (t) => [primaryKey({ columns: [t.federationId, t.round] })],
);

export const participations = sqliteTable(
  'participations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    federationId: text('federation_id').notNull(),
    round: integer('round').notNull(),
    institutionId: text('institution_id').notNull(),
    status: text('status').$type<ParticipationStatus>().notNull(),
    samples: integer('samples'),
    digest: text('digest'),
    bytes: integer('bytes'),
    metrics: text('metrics', { mode: 'json' }).$type<LocalMetrics>(),
    code: text('code'),
    message: text('message'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('participations_federation_round_institution').on(t.federationId, t.round, t.institutionId),
    foreignKey({ columns: [t.federationId, t.round], foreignColumns: [rounds.federationId, rounds.round] }),
    foreignKey({ columns: [t.federationId, t.institutionId], foreignColumns: [institutions.federationId, institutions.id] }),
  ],
);

export const models = sqliteTable(
  'models',
  {
    federationId: text('federation_id')
      .notNull()
      .references(() => federations.id),
    version: integer('version').notNull(),
    round: integer('round'),
    parentVersion: integer('parent_version'),
    digest: text('digest').notNull(),
    specHash: text('spec_hash').notNull(),
    signature: text('signature').notNull(),
    path: text('path').notNull(),
    bytes: integer('bytes').notNull(),
    createdAt: integer('created_at').notNull(),
    /** The model card (JSON) and the coordinator's signature over its canonical form. */
    card: text('card', { mode: 'json' }).$type<Record<string, unknown>>(),
    cardSignature: text('card_signature'),
  },
  (t) => [primaryKey({ columns: [t.federationId, t.version] })],
);

/** Consents institutions presented: signed by them, so the coordinator can keep but not forge them. */
export const consents = sqliteTable(
  'consents',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    federationId: text('federation_id').notNull(),
    institutionId: text('institution_id').notNull(),
    consentHash: text('consent_hash').notNull(),
    body: text('body', { mode: 'json' }).$type<ConsentBody>().notNull(),
    signature: text('signature').notNull(),
    status: text('status').$type<ConsentStatus>().notNull(),
    expiresAt: integer('expires_at').notNull(),
    presentedAt: integer('presented_at').notNull(),
    revokedAt: integer('revoked_at'),
    /** The first round the revocation applies to. */
    revokedFromRound: integer('revoked_from_round'),
    revocation: text('revocation', { mode: 'json' }).$type<{ body: RevocationBody; signature: string }>(),
  },
  (t) => [
    uniqueIndex('consents_hash').on(t.consentHash),
    index('consents_institution').on(t.federationId, t.institutionId),
    foreignKey({ columns: [t.federationId, t.institutionId], foreignColumns: [institutions.federationId, institutions.id] }),
  ],
);

/**
 * The append-only audit log, hash-chained: `hash = SHA-256(prevHash || body)` where body is the
 * canonical JSON of { seq: id, ts, federation, kind, actor, subject, data }, and `signature` is the
 * coordinator's Ed25519 signature over the 32 bytes of `hash`. `data` is stored in canonical JSON.
 */
export const audit = sqliteTable(
  'audit',
  {
    id: integer('id').primaryKey(),
    ts: integer('ts').notNull(),
    federationId: text('federation_id'),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    subject: text('subject'),
    data: text('data').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    signature: text('signature').notNull(),
  },
  (t) => [index('audit_federation').on(t.federationId, t.id)],
);

export type ApiRole = 'admin' | 'auditor' | 'institution';

/**
 * Bearer tokens of the REST API: only the SHA-256 of each token is kept (the token is shown once,
 * when created). An `institution` token is bound to an institution id and sees only its records.
 */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    hash: text('hash').notNull(),
    role: text('role').$type<ApiRole>().notNull(),
    institutionId: text('institution_id'),
    label: text('label'),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash').on(t.hash)],
);

export type Federation = typeof federations.$inferSelect;
export type NewFederation = typeof federations.$inferInsert;
export type Institution = typeof institutions.$inferSelect;
export type NewInstitution = typeof institutions.$inferInsert;
export type Round = typeof rounds.$inferSelect;
export type NewRound = typeof rounds.$inferInsert;
export type Participation = typeof participations.$inferSelect;
export type NewParticipation = typeof participations.$inferInsert;
export type ModelRecord = typeof models.$inferSelect;
export type NewModelRecord = typeof models.$inferInsert;
/** An audit row as stored (data as canonical JSON text, with its chain fields). */
export type AuditRow = typeof audit.$inferSelect;
/** An audit event as read: data parsed. */
export type AuditEvent = Omit<AuditRow, 'data'> & { data: Record<string, unknown> };
export type Consent = typeof consents.$inferSelect;
export type NewConsent = typeof consents.$inferInsert;
export type NewAuditEvent = Omit<typeof audit.$inferInsert, 'data' | 'prevHash' | 'hash' | 'signature' | 'id'> & {
  data: Record<string, unknown>;
};
export type ApiToken = typeof apiTokens.$inferSelect;
export type NewApiToken = typeof apiTokens.$inferInsert;
