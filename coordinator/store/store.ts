/** The Store interface: everything the coordinator persists, with no SQL in sight. */
import type {
  ApiToken,
  AuditEvent,
  AuditRow,
  Consent,
  NewConsent,
  Federation,
  FederationStatus,
  Institution,
  ModelRecord,
  NewApiToken,
  NewAuditEvent,
  NewFederation,
  NewInstitution,
  NewModelRecord,
  NewParticipation,
  NewRound,
  Participation,
  Round,
} from './schema.js';

/** Fields of a round that may change after it is created; `state` changes are checked by the round state machine. */
export type RoundPatch = Partial<
  Pick<Round, 'state' | 'resultVersion' | 'deadline' | 'selected' | 'closedAt' | 'reason' | 'metrics' | 'policyHash' | 'decisions'>
>;

/** Fields of a federation that may change after creation (a policy change is audited by the caller). */
export type FederationPatch = Partial<Pick<Federation, 'policy' | 'policyHash' | 'status' | 'spec' | 'manifest' | 'manifestHash'>>;

/** Signs an audit entry's hash (64 hex characters); returns a base64 Ed25519 signature. */
export type AuditSigner = (hash: string) => string;

/** Fields of a participation that may change; `updatedAt` defaults to now. */
export type ParticipationPatch = Partial<
  Pick<Participation, 'status' | 'samples' | 'digest' | 'bytes' | 'metrics' | 'code' | 'message' | 'updatedAt'>
>;

/** An audit event to append; `ts` defaults to now. */
export type AuditInput = Omit<NewAuditEvent, 'id' | 'ts'> & { ts?: number };

export interface AuditQuery {
  federationId?: string;
  /** Only events with an id greater than this (for paging forward). */
  afterId?: number;
  limit?: number;
  /** Skip this many matching events (page by offset). */
  offset?: number;
  /** Only events of this kind (exact match). */
  kind?: string;
  /** Only events whose actor or subject is this institution (or `institution:<id>`). */
  institution?: string;
  /** Only events whose kind, actor, subject or data contains this text (case-insensitive). */
  text?: string;
  /** Append order (default) or newest first. */
  order?: 'asc' | 'desc';
}

/**
 * Synchronous persistence for the coordinator. Getters return `undefined` when nothing matches;
 * updates throw when the row does not exist; inserts that collide with an existing key throw a
 * CohortError with code DUPLICATE. The audit log is append-only: there is no way to change it.
 */
export interface Store {
  createFederation(input: NewFederation): Federation;
  getFederation(id: string): Federation | undefined;
  listFederations(): Federation[];
  updateFederationStatus(id: string, status: FederationStatus, at?: number): Federation;
  updateFederation(id: string, patch: FederationPatch): Federation;

  /** Records a consent an institution presented (already verified by the caller); DUPLICATE if already held. */
  addConsent(input: NewConsent): Consent;
  getConsentByHash(consentHash: string): Consent | undefined;
  /** The institution's newest consent for the federation, whatever its status. */
  latestConsent(federationId: string, institutionId: string): Consent | undefined;
  listConsents(federationId: string): Consent[];
  revokeConsent(consentHash: string, patch: Pick<Consent, 'revokedAt' | 'revokedFromRound' | 'revocation'>): Consent;

  /** Enrols an institution, or re-enrols it (name, keys, fingerprint, status replaced; enrolledAt kept). */
  upsertInstitution(input: NewInstitution): Institution;
  getInstitution(federationId: string, id: string): Institution | undefined;
  listInstitutions(federationId: string): Institution[];
  /** Records that an institution was seen (connected, sent something) at `at` (default now). */
  touchInstitution(federationId: string, id: string, at?: number): void;

  createRound(input: NewRound): Round;
  getRound(federationId: string, round: number): Round | undefined;
  /** Patches a round; a `state` change must be allowed by ROUND_TRANSITIONS or this throws. */
  updateRound(federationId: string, round: number, patch: RoundPatch): Round;
  listRounds(federationId: string): Round[];
  /** The round with the highest number, or undefined before the first round. */
  latestRound(federationId: string): Round | undefined;

  addParticipation(input: NewParticipation): Participation;
  updateParticipation(federationId: string, round: number, institutionId: string, patch: ParticipationPatch): Participation;
  getParticipation(federationId: string, round: number, institutionId: string): Participation | undefined;
  /** Participations of a federation (optionally of one round), ordered by round then id. */
  listParticipations(federationId: string, round?: number): Participation[];

  insertModel(input: NewModelRecord): ModelRecord;
  getModel(federationId: string, version: number): ModelRecord | undefined;
  /** The model with the highest version, or undefined before the initial model is stored. */
  latestModel(federationId: string): ModelRecord | undefined;
  listModels(federationId: string): ModelRecord[];
  setModelCard(federationId: string, version: number, card: Record<string, unknown>, cardSignature: string): ModelRecord;

  /**
   * Appends an event to the hash chain (hash of the previous entry and of this body), signed by the
   * signer set with setAuditSigner (unsigned, and so failing verification, until one is set).
   */
  appendAudit(event: AuditInput): AuditEvent;
  setAuditSigner(signer: AuditSigner): void;
  /** Raw audit rows with their chain fields, in order, for verification and export. */
  listAuditRows(afterId?: number, limit?: number): AuditRow[];
  /** Audit events in append order (ascending id), or newest first with `order: 'desc'`. */
  listAudit(query?: AuditQuery): AuditEvent[];
  /** How many events match the query's filters (its afterId, limit and offset are ignored). */
  countAudit(query?: AuditQuery): number;

  /** Stores a new API token (its hash only); DUPLICATE if the id or hash exists. */
  createApiToken(input: NewApiToken): ApiToken;
  getApiToken(id: string): ApiToken | undefined;
  /** The token with this SHA-256 (hex), revoked or not; the caller compares and checks revocation. */
  getApiTokenByHash(hash: string): ApiToken | undefined;
  listApiTokens(): ApiToken[];
  /** Marks a token revoked at `at` (default now); throws when it does not exist. */
  revokeApiToken(id: string, at?: number): ApiToken;
  /** Records the token's last use. */
  touchApiToken(id: string, at?: number): void;

  /** Runs `fn` atomically; nested calls become savepoints. `fn` must be synchronous. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
