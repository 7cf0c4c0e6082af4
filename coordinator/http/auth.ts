/** Bearer-token authentication for /api/*, with a limit on failures per address, and the per-route role check. */
import type { Context, MiddlewareHandler } from 'hono';
import { CohortError } from '../../protocol/index.js';
import { authenticateToken, type Principal } from '../auth/index.js';
import type { ApiRole, Store } from '../store/index.js';
import { remoteAddress, type ApiEnv } from './context.js';
import type { FailureCounter } from './rate-limit.js';

const BEARER = /^Bearer ([^\s]+)$/i;

/**
 * The principal of `Authorization: Bearer <token>`: 401 UNAUTHENTICATED when it is missing,
 * unknown or revoked. An address that presented `max` bad tokens within the window is refused
 * with 429 RATE_LIMITED until the window ends, whatever token it presents.
 * @example const who = bearerPrincipal(c, store, failures)
 */
export function bearerPrincipal(c: Context, store: Store, failures: FailureCounter): Principal {
  const address = remoteAddress(c);
  const wait = failures.blocked(address);
  if (wait > 0) {
    c.header('retry-after', String(Math.ceil(wait / 1000)));
    throw new CohortError('RATE_LIMITED', `too many failed authentications from ${address}; try again in ${Math.ceil(wait / 1000)} s`);
  }
  const header = c.req.header('authorization');
  if (!header)
    throw new CohortError('UNAUTHENTICATED', 'this route needs an API token: send Authorization: Bearer <token> (cohort tokens create)');
  const token = BEARER.exec(header)?.[1];
  const principal = token ? authenticateToken(store, token) : null;
  if (!principal) {
    failures.add(address);
    throw new CohortError('UNAUTHENTICATED', 'the API token is malformed, unknown or revoked');
  }
  return principal;
}

/**
 * Middleware for /api/*: every request carries a valid token (see bearerPrincipal).
 * @example app.use('/api/*', authenticate(store, new FailureCounter({ max: 20, windowMs: 60_000 })))
 */
export function authenticate(store: Store, failures: FailureCounter): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    c.set('principal', bearerPrincipal(c, store, failures));
    await next();
  };
}

/**
 * Lets the request through only for the given roles (403 FORBIDDEN otherwise); runs before the
 * route's validators, so a caller without the role learns nothing from validation errors.
 * @example createRoute({ ..., middleware: [allow('admin')] })
 */
export function allow(...roles: ApiRole[]): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const { role } = c.get('principal');
    if (!roles.includes(role))
      throw new CohortError('FORBIDDEN', `the ${role} role may not ${c.req.method} ${c.req.path}; it needs ${roles.join(' or ')}`);
    await next();
  };
}

export const ANY_ROLE: ApiRole[] = ['admin', 'auditor', 'institution'];
export const STAFF: ApiRole[] = ['admin', 'auditor'];
