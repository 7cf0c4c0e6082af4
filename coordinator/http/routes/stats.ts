/** The analytics route: POST /api/federations/:id/stats asks the online sites, pools their suppressed counts, returns stats.json. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CohortError } from '../../../protocol/index.js';
import { StatsRequestSchema } from '../../analytics/index.js';
import { allow } from '../auth.js';
import { actorOf, federationFor, type ApiDeps, type ApiEnv } from '../context.js';
import { FederationParams } from '../schemas.js';
import { AUTH_ERRORS, BAD_REQUEST, BEARER, NOT_FOUND, json } from './common.js';

/**
 * Registers POST .../stats (admin) and GET .../stats (the last results, for the console): a two-phase query over the online sites whose consent allows analytics; each site
 * applies its own minimum cell size. The request, every site's answer or refusal and the result are audited.
 * @example registerStatsRoutes(app, deps)
 */
export function registerStatsRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/federations/{id}/stats',
      tags: ['analytics'],
      summary:
        'Descriptive statistics, crosstabs and Kaplan-Meier pooled from the online sites that consent to analytics (admin); stats.json',
      security: BEARER,
      middleware: [allow('admin')],
      request: { params: FederationParams, body: { content: { 'application/json': { schema: StatsRequestSchema } }, required: true } },
      responses: {
        200: json(
          z.record(z.string(), z.unknown()),
          'stats.json: per column, crosstab and survival curve, with the sites that answered and refused',
        ),
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const fed = federationFor(deps.store, c, c.req.valid('param').id);
      if (!deps.stats) throw new CohortError('NOT_FOUND', 'this coordinator does not run analytics queries');
      const result = await deps.stats(fed.id, c.req.valid('json'), actorOf(c));
      return c.json(result as unknown as Record<string, unknown>, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/federations/{id}/stats',
      tags: ['analytics'],
      summary:
        'The last stats queries run since the coordinator started (admin, auditor): who asked, the request and stats.json, newest first',
      security: BEARER,
      middleware: [allow('admin', 'auditor')],
      request: { params: FederationParams },
      responses: {
        200: json(z.object({ queries: z.array(z.record(z.string(), z.unknown())) }), 'the last queries (at most 20), newest first'),
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
    }),
    (c) => {
      const fed = federationFor(deps.store, c, c.req.valid('param').id);
      return c.json({ queries: (deps.statsRecent?.(fed.id) ?? []) as Record<string, unknown>[] }, 200);
    },
  );
}
