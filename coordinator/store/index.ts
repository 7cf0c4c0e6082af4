/** Public surface of the coordinator's persistence: the Store interface, its SQLite implementation and row types. */
export { openSqliteStore } from './sqlite-store.js';
export { knownError, storageUnavailable, storing } from './unavailable.js';
export type { AuditInput, AuditQuery, AuditSigner, FederationPatch, ParticipationPatch, RoundPatch, Store } from './store.js';
export type {
  ApiRole,
  ApiToken,
  NewApiToken,
  AuditEvent,
  AuditRow,
  Consent,
  ConsentStatus,
  NewConsent,
  Federation,
  FederationConfig,
  FederationStatus,
  Institution,
  InstitutionStatus,
  ModelRecord,
  NewAuditEvent,
  NewFederation,
  NewInstitution,
  NewModelRecord,
  NewParticipation,
  NewRound,
  Participation,
  ParticipationStatus,
  Round,
  RoundMetrics,
} from './schema.js';
