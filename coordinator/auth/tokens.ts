/** API bearer tokens: minted from 32 random bytes, stored as their SHA-256 only, checked in constant time. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CohortError } from '../../protocol/index.js';
import type { ApiRole, ApiToken, Store } from '../store/index.js';

export const API_ROLES = ['admin', 'auditor', 'institution'] as const satisfies readonly ApiRole[];
/** Tokens look like `cohort_<43 base64url characters>`; the prefix makes a leaked token easy to find by scanners. */
export const TOKEN_PREFIX = 'cohort_';
const TOKEN_SHAPE = /^cohort_[A-Za-z0-9_-]{43}$/;
const ID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Who a request is: the token's role, the institution it is bound to (institution role only), and its id. */
export interface Principal {
  role: ApiRole;
  institution: string | null;
  tokenId: string;
}

/**
 * The hex SHA-256 of a token: what the store keeps.
 * @example hashToken('cohort_...') // 64 hex characters
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Mints a token, stores its hash and audits the creation; returns the token (shown once, never stored) and its row.
 * @example const { token } = createApiToken(store, { role: 'auditor', label: 'ethics board' }, 'cli')
 */
export function createApiToken(
  store: Store,
  opts: { role: ApiRole; institution?: string | null; label?: string | null; now?: number },
  actor: string,
): { token: string; record: ApiToken } {
  if (!(API_ROLES as readonly string[]).includes(opts.role))
    throw new CohortError('BAD_REQUEST', `role must be one of ${API_ROLES.join(', ')}, got ${opts.role}`);
  const institution = opts.institution ?? null;
  if (opts.role === 'institution' && !institution)
    throw new CohortError('BAD_REQUEST', 'an institution token needs the institution id it is bound to');
  if (opts.role !== 'institution' && institution)
    throw new CohortError('BAD_REQUEST', `an ${opts.role} token is not bound to an institution`);
  if (institution && !ID_SHAPE.test(institution)) throw new CohortError('BAD_REQUEST', `institution id "${institution}" is not a valid id`);
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const id = `tok_${randomBytes(6).toString('hex')}`;
  const now = opts.now ?? Date.now();
  const record = store.transaction(() => {
    const row = store.createApiToken({
      id,
      hash: hashToken(token),
      role: opts.role,
      institutionId: institution,
      label: opts.label ?? null,
      createdAt: now,
    });
    store.appendAudit({
      kind: 'token.created',
      actor,
      subject: `token:${id}`,
      data: { id, role: opts.role, institution, label: opts.label ?? null },
    });
    return row;
  });
  return { token, record };
}

/**
 * Revokes a token and audits it; NOT_FOUND when there is no such token, and a second revocation changes nothing.
 * @example revokeApiToken(store, 'tok_0a1b2c3d4e5f', 'cli')
 */
export function revokeApiToken(store: Store, id: string, actor: string): ApiToken {
  const existing = store.getApiToken(id);
  if (!existing) throw new CohortError('NOT_FOUND', `no API token ${id}`);
  if (existing.revokedAt !== null) return existing;
  return store.transaction(() => {
    const row = store.revokeApiToken(id);
    store.appendAudit({
      kind: 'token.revoked',
      actor,
      subject: `token:${id}`,
      data: { id, role: row.role, institution: row.institutionId },
    });
    return row;
  });
}

/**
 * The principal a bearer token stands for, or null when it is malformed, unknown or revoked.
 * The lookup is by hash (the token itself is never stored or compared), and the stored hash is
 * compared again in constant time.
 * @example const who = authenticateToken(store, bearer); if (!who) return unauthorized()
 */
export function authenticateToken(store: Store, token: string, now = Date.now()): Principal | null {
  if (!TOKEN_SHAPE.test(token)) return null;
  const hash = hashToken(token);
  const row = store.getApiTokenByHash(hash);
  if (!row || row.revokedAt !== null) return null;
  if (!timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) return null;
  if (row.lastUsedAt === null || now - row.lastUsedAt > 60_000) store.touchApiToken(row.id, now);
  return { role: row.role, institution: row.institutionId, tokenId: row.id };
}

/** True when the store holds an admin token that is not revoked. */
export function hasActiveAdminToken(store: Store): boolean {
  return store.listApiTokens().some((t) => t.role === 'admin' && t.revokedAt === null);
}
