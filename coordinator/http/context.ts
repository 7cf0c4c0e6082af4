/** What every API handler shares: the hono environment (the caller's principal), the API's dependencies and scoping helpers. */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { CohortError } from '../../protocol/index.js';
import type { Principal } from '../auth/index.js';
import type { ModelRunner } from '../models/index.js';
import type { Federation, Store } from '../store/index.js';
import type { WindowLimit } from './rate-limit.js';
import type { StatsRequest } from '../analytics/index.js';

export interface ApiDeps {
  store: Store;
  dataDir: string;
  /** The coordinator's Ed25519 public key, base64 (audit verification and download checks use it). */
  coordinatorSignPublicKey: string;
  online: (federation: string) => string[];
  startedAt: number;
  /** Failed token checks allowed per remote address per window (default 20 per minute). */
  authFailureLimit?: WindowLimit;
  /** Largest request body accepted, in bytes (default 1 MiB; model uploads go over socket.io, not HTTP). */
  maxBodyBytes?: number;
  /** Runs models for predict (TF.js in a worker, injected by the composer); predict answers 503 MODEL_RUNNER_UNAVAILABLE without one. */
  modelRunner?: ModelRunner;
  /** What /readyz reports: each check's name and its problem, or null when it passes (ready when absent). */
  readiness?: () => Record<string, string | null>;
  /** Runs an analytics query over the online sites (coordinator/analytics); the stats route answers NOT_FOUND when absent. */
  stats?: (federation: string, request: StatsRequest, actor: string) => Promise<unknown>;
  /** The last stats results (newest first) for GET .../stats and the console's Stats page. */
  statsRecent?: (federation: string) => unknown[];
}

export type ApiEnv = { Variables: { principal: Principal } };
export type ApiContext = Context<ApiEnv>;

/**
 * The peer's address as the socket saw it ('unknown' in-process, where there is no socket). Proxies' headers are not trusted.
 * @example remoteAddress(c) // '127.0.0.1'
 */
export function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * True for 127.0.0.0/8 and ::1 (also as IPv4-mapped IPv6).
 * @example isLoopback('::ffff:127.0.0.1') // true
 */
export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * The caller's institution when it holds an institution token, else null (admins and auditors see everything).
 * @example const scope = scopeOf(c); rows.filter((r) => scope === null || r.institutionId === scope)
 */
export function scopeOf(c: ApiContext): string | null {
  const p = c.get('principal');
  return p.role === 'institution' ? p.institution : null;
}

/**
 * Who did it, as audit events name an API caller.
 * @example actorOf(c) // 'token:tok_3f9a1c2b7d4e'
 */
export function actorOf(c: ApiContext): string {
  return `token:${c.get('principal').tokenId}`;
}

/**
 * The federation, or NOT_FOUND, also when an institution token's institution is not enrolled in it
 * (an institution learns nothing about federations it is not part of).
 * @example const fed = federationFor(store, c, c.req.valid('param').id)
 */
export function federationFor(store: Store, c: ApiContext, id: string): Federation {
  const fed = store.getFederation(id);
  const scope = scopeOf(c);
  if (!fed || (scope !== null && !store.getInstitution(fed.id, scope))) throw new CohortError('NOT_FOUND', `no federation ${id}`);
  return fed;
}

/**
 * A path segment that must be a non-negative integer (no signs, exponents or hex).
 * @example intParam('12', 'round') // 12; intParam('1e3', 'round') throws BAD_REQUEST
 */
export function intParam(text: string, what: string): number {
  const v = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(v)) throw new CohortError('BAD_REQUEST', `${what} must be a non-negative integer, got ${text}`);
  return v;
}
