/** Federation routes: list, status, the study manifest, consents, and the institutions (admin enrols and suspends). */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CohortError } from '../../../protocol/index.js';
import { fingerprint, parsePublicIdentity, toBase64 } from '../../../crypto/index.js';
import type { Institution } from '../../store/index.js';
import { ANY_ROLE, allow } from '../auth.js';
import { actorOf, federationFor, scopeOf, type ApiDeps, type ApiEnv } from '../context.js';
import {
  EnrolBodySchema,
  FederationParams,
  FederationSchema,
  FederationSummarySchema,
  InstitutionParams,
  InstitutionSchema,
  SuspendBodySchema,
} from '../schemas.js';
import { AUTH_ERRORS, BAD_REQUEST, BEARER, CONFLICT, NOT_FOUND, TOO_LARGE, json, readRoute } from './common.js';

const tags = ['federations'];
const open = <T extends z.ZodType>(summary: string, path: string, schema: T) =>
  readRoute({ tags, path, summary, params: FederationParams, schema });

/**
 * Registers the federation, study, consent and institution routes (reads for every role, scoped for institutions; writes for admins).
 * @example registerFederationRoutes(app, deps)
 */
export function registerFederationRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;
  const institutionView = (i: Institution, online: string[]) => ({
    id: i.id,
    name: i.name,
    fingerprint: i.fingerprint,
    signPublicKey: i.signPublicKey,
    boxPublicKey: i.boxPublicKey,
    status: i.status,
    enrolledAt: i.enrolledAt,
    lastSeenAt: i.lastSeenAt,
    online: online.includes(i.id),
  });

  const listSummary = 'Federations the caller may see (an institution: those it is enrolled in)';
  const list = createRoute({
    method: 'get',
    path: '/api/federations',
    tags,
    summary: listSummary,
    security: BEARER,
    middleware: [allow(...ANY_ROLE)],
    responses: { 200: json(z.object({ federations: z.array(FederationSummarySchema) }), listSummary), ...AUTH_ERRORS },
  });
  app.openapi(list, (c) => {
    const scope = scopeOf(c);
    const feds = store.listFederations().filter((f) => scope === null || store.getInstitution(f.id, scope) !== undefined);
    return c.json({ federations: feds.map(({ id, name, status }) => ({ id, name, status })) }, 200);
  });

  app.openapi(
    open(
      'A federation: spec, rules, current round, institutions, who is online, the latest model',
      '/api/federations/{id}',
      FederationSchema,
    ),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      const scope = scopeOf(c);
      const mine = <T extends { id: string } | string>(xs: T[]) =>
        xs.filter((x) => scope === null || (typeof x === 'string' ? x : x.id) === scope);
      const rounds = store.listRounds(fed.id);
      const latest = store.latestModel(fed.id);
      return c.json(
        {
          id: fed.id,
          name: fed.name,
          status: fed.status,
          spec: fed.spec,
          config: fed.config,
          currentRound: rounds.at(-1) ?? null,
          roundsPublished: rounds.filter((r) => r.state === 'published').length,
          institutions: mine(store.listInstitutions(fed.id)).map(({ id, fingerprint: fp, status, lastSeenAt }) => ({
            id,
            fingerprint: fp,
            status,
            lastSeenAt,
          })),
          online: mine(deps.online(fed.id)),
          latestModel: latest ? { version: latest.version, digest: latest.digest, round: latest.round } : null,
        },
        200,
      );
    },
  );

  // What institutions consent to: `cohort consent grant --study <this URL>` signs its hash.
  app.openapi(
    open(
      'The study manifest institutions consent to, its content hash, and the policy',
      '/api/federations/{id}/study',
      z.object({ federation: z.string(), manifest: z.unknown(), manifestHash: z.string(), policy: z.unknown(), policyHash: z.string() }),
    ),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      return c.json(
        { federation: fed.id, manifest: fed.manifest, manifestHash: fed.manifestHash, policy: fed.policy, policyHash: fed.policyHash },
        200,
      );
    },
  );

  app.openapi(
    open(
      'Consents institutions presented (an institution: its own)',
      '/api/federations/{id}/consents',
      z.object({
        consents: z.array(
          z.object({
            institution: z.string(),
            consentHash: z.string(),
            uses: z.array(z.string()),
            ethicsApproval: z.unknown(),
            dataResidency: z.unknown(),
            status: z.string(),
            revokedAt: z.number().nullable(),
            revokedFromRound: z.number().nullable(),
          }),
        ),
      }),
    ),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      const scope = scopeOf(c);
      const consents = store
        .listConsents(fed.id)
        .filter((k) => scope === null || k.institutionId === scope)
        .map(({ institutionId, consentHash, body, status, revokedAt, revokedFromRound }) => ({
          institution: institutionId,
          consentHash,
          uses: [...body.uses],
          ethicsApproval: body.ethicsApproval,
          dataResidency: body.dataResidency,
          status,
          revokedAt,
          revokedFromRound,
        }));
      return c.json({ consents }, 200);
    },
  );

  app.openapi(
    open(
      'Enrolled institutions: public keys, fingerprints, status, last seen, online (an institution: itself)',
      '/api/federations/{id}/institutions',
      z.object({ institutions: z.array(InstitutionSchema) }),
    ),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      const scope = scopeOf(c);
      const online = deps.online(fed.id);
      const list = store.listInstitutions(fed.id).filter((i) => scope === null || i.id === scope);
      return c.json({ institutions: list.map((i) => institutionView(i, online)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/federations/{id}/institutions',
      tags,
      summary: 'Enrol an institution by its public identity (admin); audited',
      security: BEARER,
      middleware: [allow('admin')],
      request: { params: FederationParams, body: { content: { 'application/json': { schema: EnrolBodySchema } }, required: true } },
      responses: { 201: json(InstitutionSchema, 'enrolled'), ...BAD_REQUEST, ...AUTH_ERRORS, ...NOT_FOUND, ...CONFLICT, ...TOO_LARGE },
    }),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      let pub;
      try {
        pub = parsePublicIdentity(JSON.stringify(c.req.valid('json')));
      } catch (cause) {
        throw new CohortError('BAD_REQUEST', (cause as Error).message);
      }
      if (store.getInstitution(fed.id, pub.id))
        throw new CohortError('DUPLICATE', `institution ${pub.id} is already enrolled in ${fed.id}`);
      const fp = fingerprint(pub.signPublicKey);
      const row = store.transaction(() => {
        const inserted = store.upsertInstitution({
          federationId: fed.id,
          id: pub.id,
          name: pub.id,
          signPublicKey: toBase64(pub.signPublicKey),
          boxPublicKey: toBase64(pub.boxPublicKey),
          fingerprint: fp,
          status: 'active',
          enrolledAt: Date.now(),
        });
        store.appendAudit({
          federationId: fed.id,
          kind: 'institution.enrolled',
          actor: actorOf(c),
          subject: pub.id,
          data: { fingerprint: fp, via: 'api' },
        });
        return inserted;
      });
      return c.json(institutionView(row, deps.online(fed.id)), 201);
    },
  );

  for (const [action, status] of [
    ['suspend', 'suspended'],
    ['reactivate', 'active'],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/api/federations/{id}/institutions/{inst}/${action}`,
        tags,
        summary:
          action === 'suspend'
            ? 'Suspend an institution (admin): its agent is refused at connect (a connected one keeps its session until it reconnects); audited'
            : 'Reactivate a suspended institution (admin); audited',
        security: BEARER,
        middleware: [allow('admin')],
        request: { params: InstitutionParams, body: { content: { 'application/json': { schema: SuspendBodySchema } }, required: false } },
        responses: {
          200: json(InstitutionSchema, `the institution, ${status}`),
          ...BAD_REQUEST,
          ...AUTH_ERRORS,
          ...NOT_FOUND,
          ...TOO_LARGE,
        },
      }),
      (c) => {
        const { id, inst } = c.req.valid('param');
        const fed = federationFor(store, c, id);
        const current = store.getInstitution(fed.id, inst);
        if (!current) throw new CohortError('NOT_FOUND', `institution ${inst} is not enrolled in ${fed.id}`);
        const reason = (c.req.valid('json') as { reason?: string } | undefined)?.reason ?? null;
        const row = store.transaction(() => {
          const updated = store.upsertInstitution({ ...current, status });
          store.appendAudit({
            federationId: fed.id,
            kind: `institution.${action === 'suspend' ? 'suspended' : 'reactivated'}`,
            actor: actorOf(c),
            subject: inst,
            data: { previous: current.status, status, reason },
          });
          return updated;
        });
        return c.json(institutionView(row, deps.online(fed.id)), 200);
      },
    );
  }
}
