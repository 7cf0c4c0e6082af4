/** Audit routes: the federation's audit events (filtered, paginated, newest first) and verification of the whole chain. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { CohortError } from '../../../protocol/index.js';
import { fromBase64 } from '../../../crypto/index.js';
import { verifyAuditTable } from '../../audit/index.js';
import { ANY_ROLE, STAFF, allow } from '../auth.js';
import { actorOf, federationFor, scopeOf, type ApiDeps, type ApiEnv } from '../context.js';
import { AuditEventSchema, AuditQuerySchema, AuditVerdictSchema, FederationParams, pageOf } from '../schemas.js';
import { AUTH_ERRORS, BAD_REQUEST, BEARER, NOT_FOUND, json } from './common.js';

const tags = ['audit'];

/**
 * Registers GET .../audit (filtered, paginated) and POST .../audit/verify.
 * @example registerAuditRoutes(app, deps)
 */
export function registerAuditRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/federations/{id}/audit',
      tags,
      summary:
        'Audit events, newest first, filtered by kind, text and institution (an institution: only events it is the actor or subject of)',
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      request: { params: FederationParams, query: AuditQuerySchema },
      responses: { 200: json(pageOf(AuditEventSchema, 'AuditPage'), 'a page of events'), ...BAD_REQUEST, ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      const { limit, offset, kind, q, institution } = c.req.valid('query');
      const scope = scopeOf(c);
      if (scope !== null && institution !== undefined && institution !== scope) {
        throw new CohortError('FORBIDDEN', `an institution token for ${scope} may not read the audit events of ${institution}`);
      }
      const query = { federationId: fed.id, kind, text: q, institution: scope ?? institution };
      const items = store
        .listAudit({ ...query, limit, offset, order: 'desc' })
        .map(({ id, ts, federationId, kind: k, actor, subject, data, hash }) => ({
          id,
          ts,
          federationId,
          kind: k,
          actor,
          subject,
          data,
          hash,
        }));
      return c.json({ items, total: store.countAudit(query), limit, offset }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/federations/{id}/audit/verify',
      tags,
      summary:
        'Verify the whole audit chain (every hash, link and signature) against the coordinator key (admin, auditor); the check is itself audited',
      security: BEARER,
      middleware: [allow(...STAFF)],
      request: { params: FederationParams },
      responses: {
        200: json(AuditVerdictSchema, 'the verdict; brokenAt is the sequence number of the first broken event'),
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
    }),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      const v = verifyAuditTable(store, fromBase64(deps.coordinatorSignPublicKey));
      const verdict = v.ok
        ? { ok: true, entries: v.entries, brokenAt: null, reason: null }
        : { ok: false, entries: v.entries, brokenAt: v.seq ?? v.index + 1, reason: `${v.problem}: ${v.message}` };
      store.appendAudit({
        federationId: fed.id,
        kind: 'audit.verified',
        actor: actorOf(c),
        subject: null,
        data: { ok: verdict.ok, entries: verdict.entries, brokenAt: verdict.brokenAt },
      });
      return c.json(verdict, 200);
    },
  );
}
