/** Routes about the API itself: /health (open), /api/whoami, and /metrics for Prometheus. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { PROTOCOL_VERSION } from '../../../protocol/index.js';
import { ANY_ROLE, allow, bearerPrincipal } from '../auth.js';
import type { FailureCounter } from '../rate-limit.js';
import { isLoopback, remoteAddress, type ApiDeps, type ApiEnv } from '../context.js';
import { prometheusMetrics } from '../metrics.js';
import { HealthSchema, WhoamiSchema } from '../schemas.js';
import { AUTH_ERRORS, BEARER, json } from './common.js';

/**
 * Registers /health, /api/whoami and /metrics (which shares the API's failure counter).
 * @example registerSystemRoutes(app, deps, new FailureCounter({ max: 20, windowMs: 60_000 }))
 */
export function registerSystemRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps, failures: FailureCounter): void {
  app.openapi(
    createRoute({ method: 'get', path: '/health', tags: ['system'], summary: 'Liveness, protocol version and the coordinator\'s public key (no token)', responses: { 200: json(HealthSchema, 'the coordinator is up') } }),
    (c) => c.json({ ok: true, protocolVersion: PROTOCOL_VERSION, uptimeMs: Date.now() - deps.startedAt, coordinatorSignPublicKey: deps.coordinatorSignPublicKey }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/whoami',
      tags: ['system'],
      summary: 'The role, institution and token id of the caller',
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      responses: { 200: json(WhoamiSchema, 'who the token stands for'), ...AUTH_ERRORS },
    }),
    (c) => {
      const { role, institution, tokenId } = c.get('principal');
      return c.json({ role, institution, tokenId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['system'],
      summary: 'Prometheus metrics: open to loopback callers, otherwise a token of any role',
      security: [{}, ...BEARER],
      responses: {
        200: { content: { 'text/plain': { schema: z.string() } }, description: 'Prometheus text exposition format 0.0.4' },
        401: AUTH_ERRORS[401],
        429: AUTH_ERRORS[429],
      },
    }),
    (c) => {
      if (!isLoopback(remoteAddress(c))) bearerPrincipal(c, deps.store, failures);
      return c.text(prometheusMetrics(deps), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    },
  );
}
