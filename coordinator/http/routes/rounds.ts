/** Round routes: the rounds of a federation (paginated) and one round, with participations and policy decisions. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CohortError } from '../../../protocol/index.js';
import type { Participation, Round } from '../../store/index.js';
import { ANY_ROLE, allow } from '../auth.js';
import { federationFor, intParam, scopeOf, type ApiDeps, type ApiEnv } from '../context.js';
import { FederationParams, PageQuery, RoundParams, RoundSchema } from '../schemas.js';
import { AUTH_ERRORS, BAD_REQUEST, BEARER, NOT_FOUND, json } from './common.js';

const tags = ['rounds'];
const RoundsQuery = PageQuery.extend({
  limit: z.coerce.number().int().min(0).max(1000).default(100).openapi({ description: 'at most this many rounds (0..1000, default 100)' }),
});

/** A round as the API shows it; an institution sees only its own participation and itself among the selected. */
function roundView(r: Round, participations: Participation[], scope: string | null) {
  const mine = (id: string) => scope === null || id === scope;
  const decisions = r.decisions ?? null;
  return {
    ...r,
    // A waiting round's reason names the excluded institutions: an institution sees that the round waits, not who for.
    reason: scope !== null && r.state === 'waiting' && r.reason ? 'waiting: too few eligible institutions' : r.reason,
    selected: r.selected.filter(mine),
    decisions,
    rulesPassed: decisions?.filter((d) => d.passed).length ?? 0,
    rulesFailed: decisions?.filter((d) => !d.passed).length ?? 0,
    participations: participations
      .filter((p) => p.round === r.round && mine(p.institutionId))
      .map(({ institutionId, status, samples, digest, bytes, metrics, code, message }) => ({
        institutionId,
        status,
        samples,
        digest,
        bytes,
        metrics,
        code,
        message,
      })),
  };
}

/**
 * Registers GET .../rounds (paginated) and GET .../rounds/{round}.
 * @example registerRoundRoutes(app, deps)
 */
export function registerRoundRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/federations/{id}/rounds',
      tags,
      summary: 'Rounds in order: state, deadline, participants, metrics, policy decisions (rules passed and failed)',
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      request: { params: FederationParams, query: RoundsQuery },
      responses: {
        200: json(
          z.object({ rounds: z.array(RoundSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
          'a page of rounds',
        ),
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
    }),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      const { limit, offset } = c.req.valid('query');
      const all = store.listRounds(fed.id);
      const page = all.slice(offset, offset + limit);
      const participations =
        page.length === 0 ? [] : store.listParticipations(fed.id).filter((p) => p.round >= page[0]!.round && p.round <= page.at(-1)!.round);
      return c.json({ rounds: page.map((r) => roundView(r, participations, scopeOf(c))), total: all.length, limit, offset }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/federations/{id}/rounds/{round}',
      tags,
      summary: 'One round',
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      request: { params: RoundParams },
      responses: { 200: json(RoundSchema, 'the round'), ...BAD_REQUEST, ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    (c) => {
      const params = c.req.valid('param');
      const fed = federationFor(store, c, params.id);
      const n = intParam(params.round, 'round');
      const round = store.getRound(fed.id, n);
      if (!round) throw new CohortError('NOT_FOUND', `federation ${fed.id} has no round ${n}`);
      return c.json(roundView(round, store.listParticipations(fed.id, n), scopeOf(c)), 200);
    },
  );
}
