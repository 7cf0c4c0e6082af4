/** What the connect middleware, the event handlers and the outbox share: dependencies, sessions, uploads, limits and audit. */
import type { Logger } from 'pino';
import type { Identity } from '../../crypto/index.js';
import type { Store } from '../store/index.js';
import type { RoundRunner } from '../rounds/round-runner.js';
import type { UploadTable } from './uploads.js';
import type { RateLimits, RealtimeLimiter } from './rate-limit.js';
import type { AddressEvent } from './address-audit.js';
import type { CohortServer, CohortSocket } from './types.js';

export interface RealtimeDeps {
  io: CohortServer;
  store: Store;
  identity: Identity;
  federation: string;
  log: Logger;
  chunkBytes: number;
  maxUploadBytes: number;
  /** How long a new connection has to answer the challenge. */
  authTimeoutMs?: number;
  /** Connection, message and byte rates per institution (DEFAULT_RATE_LIMITS when absent). */
  limits?: Partial<RateLimits>;
}

/** The socket.io room every authenticated agent joins; broadcasts go to it. */
export const AGENTS_ROOM = 'agents';

export interface RealtimeContext {
  deps: RealtimeDeps;
  runner: () => RoundRunner;
  /** The authenticated socket of each institution (one at a time). */
  sessions: Map<string, CohortSocket>;
  uploads: UploadTable;
  limiter: RealtimeLimiter;
  /** Best-effort audit entry under an authenticated actor. */
  audit: (kind: string, actor: string, data: Record<string, unknown>) => void;
  /** Audit entry for traffic that has not authenticated, under its address (one, and a summary, per window). */
  unauthenticated: (kind: string, address: string, event: AddressEvent) => void;
}
