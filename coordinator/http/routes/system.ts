/** Routes about the API itself: /health, /healthz and /readyz (open), /api/whoami, and /metrics for Prometheus. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { PROTOCOL_VERSION } from '../../../protocol/index.js';
import { ANY_ROLE, allow, bearerPrincipal } from '../auth.js';
import type { FailureCounter } from '../rate-limit.js';
import { isLoopback, remoteAddress, type ApiDeps, type ApiEnv } from '../context.js';
import { prometheusMetrics } from '../metrics.js';
import { HealthSchema, ReadinessSchema, WhoamiSchema } from '../schemas.js';
import { AUTH_ERRORS, BEARER, json } from './common.js';

/**
 * Registers /health, /healthz, /readyz, /api/whoami and /metrics (which shares the API's failure counter).
 * @example registerSystemRoutes(app, deps, new FailureCounter({ max: 20, windowMs: 60_000 }))
 */
export function registerSystemRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps, failures: FailureCounter): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['system'],
      summary: "Liveness, protocol version and the coordinator's public key (no token)",
      responses: { 200: json(HealthSchema, 'the coordinator is up') },
    }),
    (c) =>
      c.json(
        {
          ok: true,
          protocolVersion: PROTOCOL_VERSION,
          uptimeMs: Date.now() - deps.startedAt,
          coordinatorSignPublicKey: deps.coordinatorSignPublicKey,
        },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['system'],
      summary: 'Liveness for supervisors: 200 while the process serves requests (no token)',
      responses: { 200: json(z.object({ ok: z.literal(true) }), 'alive') },
    }),
    (c) => c.json({ ok: true as const }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['system'],
      summary:
        'Readiness for load balancers: 200 when the database answers and the round runner is running, else 503 naming the failing check (no token)',
      responses: { 200: json(ReadinessSchema, 'ready'), 503: json(ReadinessSchema, 'not ready: a check failed') },
    }),
    (c) => {
      const checks = Object.fromEntries(
        Object.entries(deps.readiness?.() ?? {}).map(([name, problem]) => [name, problem === null ? { ok: true } : { ok: false, problem }]),
      );
      const ready = Object.values(checks).every((check) => check.ok);
      return c.json({ ready, checks }, ready ? 200 : 503);
    },
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
