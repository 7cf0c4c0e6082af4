/** Model routes: versions, one version, its signed card, its lineage, the verified weights, and predictions. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CohortError } from '../../../protocol/index.js';
import { lineage, loadModel, loadModelFile, predict, type LoadedModel, type PredictRow } from '../../models/index.js';
import type { ModelRecord } from '../../store/index.js';
import { ANY_ROLE, allow } from '../auth.js';
import { federationFor, intParam, scopeOf, type ApiContext, type ApiDeps, type ApiEnv } from '../context.js';
import { ModelSchema, PredictBodySchema, PredictResponseSchema, VersionParams } from '../schemas.js';
import { AUTH_ERRORS, BAD_REQUEST, BEARER, NOT_FOUND, SERVER_ERROR, TOO_LARGE, json, readRoute } from './common.js';

const tags = ['models'];
const get = (path: string, summary: string, schema: z.ZodType) => readRoute({ tags, path, summary, params: VersionParams, schema });

/**
 * Registers the model routes: list, one version, card, lineage, weights and predict.
 * @example registerModelRoutes(app, deps)
 */
export function registerModelRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  /** A stored version: every stored version is a published one (candidates withheld by the policy are never stored). */
  const modelFor = (c: ApiContext, id: string, versionText: string): ModelRecord => {
    const fed = federationFor(store, c, id);
    const version = intParam(versionText, 'model version');
    const model = store.getModel(fed.id, version);
    if (!model) throw new CohortError('NOT_FOUND', `federation ${fed.id} has no model v${version}`);
    return model;
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/federations/{id}/models',
      tags,
      summary: 'Published model versions: digest, signature, round, parent, card',
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      request: { params: VersionParams.pick({ id: true }) },
      responses: { 200: json(z.object({ models: z.array(ModelSchema) }), 'the versions, oldest first'), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    (c) => {
      const fed = federationFor(store, c, c.req.valid('param').id);
      return c.json({ models: store.listModels(fed.id).map(({ path: _path, ...m }) => m) }, 200);
    },
  );

  app.openapi(
    get(
      '/api/federations/{id}/models/{version}',
      'One model version, with the key that signed it',
      ModelSchema.extend({ coordinatorSignPublicKey: z.string() }),
    ),
    (c) => {
      const { id, version } = c.req.valid('param');
      const { path: _path, ...model } = modelFor(c, id, version);
      return c.json({ ...model, coordinatorSignPublicKey: deps.coordinatorSignPublicKey }, 200);
    },
  );

  app.openapi(
    get(
      '/api/federations/{id}/models/{version}/card',
      'The signed model card',
      z.object({ card: z.unknown(), signature: z.string().nullable(), coordinatorSignPublicKey: z.string() }),
    ),
    (c) => {
      const { id, version } = c.req.valid('param');
      const model = modelFor(c, id, version);
      if (!model.card) throw new CohortError('NOT_FOUND', `model v${model.version} has no card (the initial model has none)`);
      return c.json({ card: model.card, signature: model.cardSignature, coordinatorSignPublicKey: deps.coordinatorSignPublicKey }, 200);
    },
  );

  app.openapi(
    get(
      '/api/federations/{id}/models/{version}/lineage',
      'Which institutions contributed to which rounds of this version; withdrawn consents flagged (an institution: its own contributions)',
      z.unknown(),
    ),
    (c) => {
      const { id, version } = c.req.valid('param');
      const model = modelFor(c, id, version);
      const l = lineage(store, model.federationId, model.version);
      const scope = scopeOf(c);
      if (scope === null) return c.json(l, 200);
      return c.json(
        {
          ...l,
          steps: l.steps.map((s) => ({ ...s, contributors: s.contributors.filter((x) => x.institution === scope) })),
          institutions: l.institutions.filter((i) => i.institution === scope),
          flags: l.institutions.some((i) => i.institution === scope && i.revoked) ? l.flags.filter((f) => f.startsWith(`${scope} `)) : [],
          flagged: l.institutions.some((i) => i.institution === scope && i.revoked),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/federations/{id}/models/{version}/weights',
      tags,
      summary: 'Download a published model (tensor codec frame); its digest is checked before it is served; audited',
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      request: { params: VersionParams },
      responses: {
        200: {
          content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
          description:
            'the model frame; x-cohort-digest, x-cohort-spec-hash, x-cohort-signature and x-cohort-version headers let anyone verify it offline',
        },
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
        ...SERVER_ERROR,
      },
    }),
    (c) => {
      const { id, version } = c.req.valid('param');
      const model = modelFor(c, id, version);
      let bytes: Uint8Array;
      try {
        bytes = loadModelFile(deps.dataDir, model.path, model.digest);
      } catch (cause) {
        const reason = (cause as Error).message;
        store.appendAudit({
          federationId: model.federationId,
          kind: 'model.corrupt',
          actor: 'http',
          subject: `model:${model.version}`,
          data: { version: model.version, digest: model.digest, reason },
        });
        throw new CohortError('CORRUPT_PAYLOAD', `model v${model.version} is not served: ${reason}`);
      }
      const { tokenId } = c.get('principal');
      store.appendAudit({
        federationId: model.federationId,
        kind: 'model.downloaded',
        actor: 'http',
        subject: `model:${model.version}`,
        data: { version: model.version, digest: model.digest, token: tokenId },
      });
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        'content-type': 'application/octet-stream',
        'content-disposition': `attachment; filename="${model.federationId}-v${model.version}.cohort"`,
        'x-cohort-digest': model.digest,
        'x-cohort-spec-hash': model.specHash,
        'x-cohort-signature': model.signature,
        'x-cohort-version': String(model.version),
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/federations/{id}/models/{version}/predict',
      tags,
      summary:
        "Class probabilities of a published model for raw rows (features by name, z-scored with the federation's pooled statistics; or MNIST pixels)",
      security: BEARER,
      middleware: [allow(...ANY_ROLE)],
      request: { params: VersionParams, body: { content: { 'application/json': { schema: PredictBodySchema } }, required: true } },
      responses: {
        200: json(PredictResponseSchema, 'one row of probabilities per input row, in `classes` order'),
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
        ...TOO_LARGE,
        ...SERVER_ERROR,
      },
    }),
    async (c) => {
      const { id, version } = c.req.valid('param');
      const record = modelFor(c, id, version);
      const fed = store.getFederation(record.federationId)!;
      let model: LoadedModel;
      try {
        // Read and digest-checked on every request (a model file is a few MB; decoding makes views, not copies).
        model = loadModel(deps.dataDir, record.path, record.digest, fed.spec);
      } catch (cause) {
        throw new CohortError('CORRUPT_PAYLOAD', `model v${record.version} cannot be used: ${(cause as Error).message}`);
      }
      const out = await predict(deps.modelRunner, model, c.req.valid('json').rows as PredictRow[]).catch((cause: unknown) => {
        if (cause instanceof CohortError && cause.code === 'MODEL_RUNNER_FAILED') {
          store.appendAudit({
            federationId: record.federationId,
            kind: 'model.runner.failed',
            actor: 'coordinator',
            subject: `model:${record.version}`,
            data: { version: record.version, reason: cause.message },
          });
        }
        throw cause;
      });
      return c.json({ version: record.version, digest: record.digest, ...out }, 200);
    },
  );
}
