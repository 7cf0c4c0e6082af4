/** The REST API: health, federation status, the study manifest, rounds with their metrics, and signed model downloads. */
import { Hono } from 'hono';
import { CohortError, PROTOCOL_VERSION } from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { lineage, loadModelFile } from '../models/index.js';
import { onError } from './errors.js';

export interface ApiDeps {
  store: Store;
  dataDir: string;
  coordinatorSignPublicKey: string;
  online: (federation: string) => string[];
  startedAt: number;
}

/**
 * Builds the hono app (tested in-process with `app.request()`).
 * @example const res = await createApi(deps).request('/health')
 */
export function createApi(deps: ApiDeps): Hono {
  const { store } = deps;
  const app = new Hono();
  app.onError(onError);
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  const federationOr404 = (id: string) => {
    const fed = store.getFederation(id);
    if (!fed) throw new CohortError('NOT_FOUND', `no federation ${id}`);
    return fed;
  };
  const versionParam = (text: string): number => {
    const v = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(v)) throw new CohortError('BAD_REQUEST', `model version must be a non-negative integer, got ${text}`);
    return v;
  };

  app.get('/health', (c) =>
    c.json({ ok: true, protocolVersion: PROTOCOL_VERSION, uptimeMs: Date.now() - deps.startedAt, coordinatorSignPublicKey: deps.coordinatorSignPublicKey }),
  );

  app.get('/api/federations', (c) => c.json({ federations: store.listFederations().map(({ id, name, status }) => ({ id, name, status })) }));

  app.get('/api/federations/:id', (c) => {
    const fed = federationOr404(c.req.param('id'));
    const rounds = store.listRounds(fed.id);
    const latest = store.latestModel(fed.id);
    return c.json({
      id: fed.id,
      name: fed.name,
      status: fed.status,
      spec: fed.spec,
      config: fed.config,
      currentRound: rounds.at(-1) ?? null,
      roundsPublished: rounds.filter((r) => r.state === 'published').length,
      institutions: store.listInstitutions(fed.id).map(({ id, fingerprint, status, lastSeenAt }) => ({ id, fingerprint, status, lastSeenAt })),
      online: deps.online(fed.id),
      latestModel: latest ? { version: latest.version, digest: latest.digest, round: latest.round } : null,
    });
  });

  // What institutions consent to: `cohort consent grant --study <this URL>` signs its hash.
  app.get('/api/federations/:id/study', (c) => {
    const fed = federationOr404(c.req.param('id'));
    return c.json({ federation: fed.id, manifest: fed.manifest, manifestHash: fed.manifestHash });
  });

  app.get('/api/federations/:id/rounds', (c) => {
    const fed = federationOr404(c.req.param('id'));
    const participations = store.listParticipations(fed.id);
    const rounds = store.listRounds(fed.id).map((r) => ({
      ...r,
      participations: participations
        .filter((p) => p.round === r.round)
        .map(({ institutionId, status, samples, digest, bytes, metrics, code, message }) => ({ institutionId, status, samples, digest, bytes, metrics, code, message })),
    }));
    return c.json({ rounds });
  });

  app.get('/api/federations/:id/study', (c) => {
    const fed = federationOr404(c.req.param('id'));
    return c.json({ manifest: fed.manifest, manifestHash: fed.manifestHash, policy: fed.policy, policyHash: fed.policyHash });
  });

  app.get('/api/federations/:id/consents', (c) => {
    const fed = federationOr404(c.req.param('id'));
    return c.json({
      consents: store.listConsents(fed.id).map(({ institutionId, consentHash, body, status, revokedAt, revokedFromRound }) => ({
        institution: institutionId,
        consentHash,
        uses: body.uses,
        ethicsApproval: body.ethicsApproval,
        dataResidency: body.dataResidency,
        status,
        revokedAt,
        revokedFromRound,
      })),
    });
  });

  app.get('/api/federations/:id/models', (c) => {
    const fed = federationOr404(c.req.param('id'));
    return c.json({ models: store.listModels(fed.id).map(({ path: _path, ...m }) => m) });
  });

  const modelOr404 = (id: string, versionText: string) => {
    const fed = federationOr404(id);
    const version = versionParam(versionText);
    const model = store.getModel(fed.id, version);
    if (!model) throw new CohortError('NOT_FOUND', `federation ${fed.id} has no model v${version}`);
    return model;
  };

  app.get('/api/federations/:id/models/:version', (c) => {
    const { path: _path, ...model } = modelOr404(c.req.param('id'), c.req.param('version'));
    return c.json({ ...model, coordinatorSignPublicKey: deps.coordinatorSignPublicKey });
  });

  app.get('/api/federations/:id/models/:version/card', (c) => {
    const model = modelOr404(c.req.param('id'), c.req.param('version'));
    if (!model.card) throw new CohortError('NOT_FOUND', `model v${model.version} has no card (the initial model has none)`);
    return c.json({ card: model.card, signature: model.cardSignature, coordinatorSignPublicKey: deps.coordinatorSignPublicKey });
  });

  app.get('/api/federations/:id/models/:version/lineage', (c) => {
    const model = modelOr404(c.req.param('id'), c.req.param('version'));
    return c.json(lineage(store, model.federationId, model.version));
  });

  app.get('/api/federations/:id/models/:version/weights', (c) => {
    const model = modelOr404(c.req.param('id'), c.req.param('version'));
    let bytes: Uint8Array;
    try {
      bytes = loadModelFile(deps.dataDir, model.path, model.digest);
    } catch (cause) {
      throw new CohortError('CORRUPT_PAYLOAD', `model v${model.version} is not served: ${(cause as Error).message}`);
    }
    store.appendAudit({ federationId: model.federationId, kind: 'model.downloaded', actor: 'http', subject: `model:${model.version}`, data: { version: model.version, digest: model.digest } });
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${model.federationId}-v${model.version}.cohort"`,
      'x-cohort-digest': model.digest,
      'x-cohort-spec-hash': model.specHash,
      'x-cohort-signature': model.signature,
      'x-cohort-version': String(model.version),
    });
  });

  return app;
}
