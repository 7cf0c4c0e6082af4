/** The API against a real federation: its records and signed models after 2 rounds with real agents, and the coordinator's own HTTP port (tokens, loopback metrics, rate limiting by the real peer address, an admin write). */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../coordinator/http/app.js';
import { createApiToken } from '../../../coordinator/auth/index.js';
import {
  architectureHash,
  canonicalJson,
  manifestHash,
  StudyManifestSchema,
  type ModelSpec,
  type StudyManifest,
} from '../../../protocol/index.js';
import { fromBase64, sha256Hex, toBase64, verifyModel } from '../../../crypto/index.js';
import { startAgent, startFederation, type Federation } from '../../e2e/helpers.js';
import { loadMnist } from '../../../node-agent/data/index.js';
import { createModelRunner } from '../../../node-agent/train/model-runner.js';
import { publicIdentityDoc, withToken } from './api-fixture.js';

interface ErrorBody {
  error: { code: string; message: string };
}

/** Everything a third party needs to check a downloaded model offline: bytes, headers, the federation's spec and the coordinator's key. */
function verifyDownload(
  bytes: Uint8Array,
  headers: Headers,
  spec: ModelSpec,
  federation: string,
  coordinatorKey: Uint8Array,
): { digestOk: boolean; specOk: boolean; signatureOk: boolean } {
  const body = bytes.subarray(0, bytes.length - 32);
  const trailer = Buffer.from(bytes.subarray(bytes.length - 32)).toString('hex');
  const digest = createHash('sha256').update(body).digest('hex');
  const specHash = sha256Hex(new TextEncoder().encode(canonicalJson(spec)));
  const signatureOk = verifyModel(
    { federation, version: Number(headers.get('x-cohort-version')), specHash, weightsDigest: digest },
    fromBase64(headers.get('x-cohort-signature') ?? ''),
    coordinatorKey,
  );
  return {
    digestOk: digest === headers.get('x-cohort-digest') && digest === trailer,
    specOk: specHash === headers.get('x-cohort-spec-hash'),
    signatureOk,
  };
}

describe('on a running coordinator', () => {
  let fed: Federation;
  let admin: string;
  let url: string;
  beforeAll(async () => {
    fed = await startFederation(1, { rounds: 1 });
    admin = createApiToken(fed.coordinator.store, { role: 'admin' }, 'test').token;
    url = fed.coordinator.url;
  });
  afterAll(async () => {
    await fed?.close();
  });

  describe('the API on a running coordinator', () => {
    it('serves /api only with a token, /health, /openapi.json and (from loopback) /metrics without one', async () => {
      const noToken = await fetch(`${url}/api/federations/e2e`);
      const whoami = await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${admin}` } });
      const metrics = await fetch(`${url}/metrics`);
      const doc = await fetch(`${url}/openapi.json`);

      expect(noToken.status).toBe(401);
      expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
      expect(await whoami.json()).toMatchObject({ role: 'admin', institution: null });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^cohort_institutions\{federation="e2e",status="active"\} 1$/m);
      expect(doc.status).toBe(200);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    });

    it('enrols an institution over HTTP; the new institution is in the store and the audit trail', async () => {
      const doc = publicIdentityDoc('late-site');

      const res = await fetch(`${url}/api/federations/e2e/institutions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });

      expect(res.status).toBe(201);
      expect(fed.coordinator.store.getInstitution('e2e', 'late-site')).toMatchObject({ status: 'active', fingerprint: doc.fingerprint });
      expect(fed.coordinator.store.listAudit({ kind: 'institution.enrolled', institution: 'late-site' })).toHaveLength(1);
    });

    it('answers 429 to the peer address after 20 bad tokens in a minute, even with a good token', async () => {
      const bad = { authorization: `Bearer cohort_${'Z'.repeat(43)}` };
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await fetch(`${url}/api/whoami`, { headers: bad })).status);

      const good = await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${admin}` } });

      expect(statuses).toEqual(Array(20).fill(401));
      expect(good.status).toBe(429);
      expect(((await good.json()) as { error: { message: string } }).error.message).toContain('127.0.0.1');
    });
  });
});

describe('REST API after a real federation (2 agents, logreg, 2 rounds)', () => {
  const runner = createModelRunner();
  let fed: Federation;
  let app: ReturnType<typeof withToken>;
  let token: string;
  const F = 'e2e';

  beforeAll(async () => {
    fed = await startFederation(2, { rounds: 2, train: { localEpochs: 1, batchSize: 20, learningRate: 0.1 } }, 'logreg', 200);
    const agents = [0, 1].map((i) => startAgent(fed, i));
    await Promise.all(agents.map((a) => a.done));
    agents.forEach((a) => a.close());
    const api = createApi({
      store: fed.coordinator.store,
      dataDir: fed.dir,
      coordinatorSignPublicKey: toBase64(fed.coordinatorIdentity.signPublicKey),
      online: () => ['site-1'],
      startedAt: Date.now(),
      modelRunner: runner,
    });
    token = createApiToken(fed.coordinator.store, { role: 'auditor' }, 'test').token;
    app = withToken(api, token);
  });
  afterAll(async () => {
    await runner.close();
    await fed?.close();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await app.request(path);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };

  it('lists the federation with its status', async () => {
    const body = await get<{ federations: unknown[] }>('/api/federations');

    expect(body.federations).toEqual([{ id: F, name: 'end-to-end test', status: 'completed' }]);
  });

  it('shows a federation: spec, rules, rounds published, institutions, who is online and the latest model', async () => {
    const body = await get<Record<string, any>>(`/api/federations/${F}`);

    expect(body).toMatchObject({
      id: F,
      status: 'completed',
      roundsPublished: 2,
      online: ['site-1'],
      config: { rounds: 2, minParticipants: 2 },
    });
    expect(body.spec).toMatchObject({ arch: 'logreg', inputShape: [784] });
    expect(body.currentRound).toMatchObject({ round: 2, state: 'published', resultVersion: 2 });
    expect(body.latestModel).toMatchObject({ version: 2, round: 2 });
    expect(body.latestModel.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(body.institutions.map((i: { id: string }) => i.id).sort()).toEqual(['site-1', 'site-2']);
    expect(body.institutions.every((i: { status: string; fingerprint: string }) => i.status === 'active' && i.fingerprint.length > 0)).toBe(
      true,
    );
    expect(Object.keys(body.institutions[0]).sort()).toEqual(['fingerprint', 'id', 'lastSeenAt', 'status']);
  });

  it('serves the study manifest that sites consent to, with its content hash, the coordinator key and the architecture hash', async () => {
    const { spec } = await get<{ spec: ModelSpec }>(`/api/federations/${F}`);
    const body = await get<{ federation: string; manifest: StudyManifest; manifestHash: string }>(`/api/federations/${F}/study`);

    const manifest = StudyManifestSchema.parse(body.manifest);

    expect(body.federation).toBe(F);
    expect(manifestHash(manifest)).toBe(body.manifestHash);
    expect(body.manifestHash).toBe(fed.coordinator.store.getFederation(F)!.manifestHash);
    expect(manifest).toMatchObject({
      federation: F,
      rounds: 2,
      strategy: 'fedavg',
      model: { arch: 'logreg', specHash: architectureHash(spec) },
    });
    expect(manifest.coordinator.signPublicKey).toBe(toBase64(fed.coordinatorIdentity.signPublicKey));
  });

  it('lists the rounds with each participation: accepted updates, samples, digests and local metrics', async () => {
    const { rounds } = await get<{ rounds: Array<Record<string, any>> }>(`/api/federations/${F}/rounds`);

    expect(rounds.map((r) => [r.round, r.state, r.baseVersion, r.resultVersion])).toEqual([
      [1, 'published', 0, 1],
      [2, 'published', 1, 2],
    ]);
    for (const r of rounds) {
      expect(r.participations.map((p: { institutionId: string }) => p.institutionId).sort()).toEqual(['site-1', 'site-2']);
      expect(r.metrics).toMatchObject({
        participants: 2,
        samples: r.participations.reduce((n: number, p: { samples: number }) => n + p.samples, 0),
      });
      for (const p of r.participations) {
        expect(p).toMatchObject({ status: 'accepted', code: null });
        expect(p.samples).toBeGreaterThan(150); // 200 rows at each site, less its local validation rows
        expect(p.samples).toBeLessThan(200);
        expect(p.digest).toMatch(/^[0-9a-f]{64}$/);
        expect(p.bytes).toBeGreaterThan(784 * 10 * 4);
        expect(p.metrics.trainLoss).toBeGreaterThan(0);
      }
    }
  });

  it('lists the models v0..v2 without their on-disk paths, and shows one with the coordinator key', async () => {
    const { models } = await get<{ models: Array<Record<string, unknown>> }>(`/api/federations/${F}/models`);
    const one = await get<Record<string, unknown>>(`/api/federations/${F}/models/1`);

    expect(models.map((m) => [m.version, m.round, m.parentVersion])).toEqual([
      [0, null, null],
      [1, 1, 0],
      [2, 2, 1],
    ]);
    expect(models.every((m) => !('path' in m))).toBe(true);
    expect(one).toMatchObject({
      federationId: F,
      version: 1,
      round: 1,
      coordinatorSignPublicKey: toBase64(fed.coordinatorIdentity.signPublicKey),
    });
    expect(one).not.toHaveProperty('path');
  });

  it('serves model weights whose digest and signature verify offline against the coordinator key and the spec hash', async () => {
    const spec = (await get<{ spec: ModelSpec }>(`/api/federations/${F}`)).spec;
    const audited = () => fed.coordinator.store.listAudit({ federationId: F }).filter((e) => e.kind === 'model.downloaded');
    const before = audited().length;

    const res = await app.request(`/api/federations/${F}/models/2/weights`);
    const bytes = new Uint8Array(await res.arrayBuffer());

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toContain(`${F}-v2.cohort`);
    expect(res.headers.get('x-cohort-version')).toBe('2');
    expect(Number(res.headers.get('content-length') ?? bytes.length)).toBe(bytes.length);
    const record = fed.coordinator.store.getModel(F, 2)!;
    expect(Buffer.from(bytes).equals(readFileSync(join(fed.dir, record.path)))).toBe(true);
    expect(verifyDownload(bytes, res.headers, spec, F, fed.coordinatorIdentity.signPublicKey)).toEqual({
      digestOk: true,
      specOk: true,
      signatureOk: true,
    });
    const events = audited();
    expect(events).toHaveLength(before + 1);
    expect(events.at(-1)).toMatchObject({ actor: 'http', subject: 'model:2', data: { version: 2, digest: record.digest } });
  });

  it('a tampered download, a different spec or another key does not verify (the check can fail)', async () => {
    const spec = (await get<{ spec: ModelSpec }>(`/api/federations/${F}`)).spec;
    const res = await app.request(`/api/federations/${F}/models/1/weights`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const key = fed.coordinatorIdentity.signPublicKey;

    const flipped = bytes.slice();
    flipped[100] = (flipped[100] as number) ^ 1;
    expect(verifyDownload(flipped, res.headers, spec, F, key)).toMatchObject({ digestOk: false, signatureOk: false });
    expect(verifyDownload(bytes, res.headers, { ...spec, arch: 'mlp', hidden: [10] }, F, key)).toMatchObject({
      specOk: false,
      signatureOk: false,
    });
    expect(verifyDownload(bytes, res.headers, spec, F, fed.institutions[0]!.signPublicKey).signatureOk).toBe(false);
    expect(verifyDownload(bytes, res.headers, spec, 'other-federation', key).signatureOk).toBe(false);
  });

  it('refuses a malformed version with 400 BAD_REQUEST and an unknown one with 404', async () => {
    for (const v of ['abc', '-1', '1.5', '1e400', '1e0', '0x1', '%201']) {
      const res = await app.request(`/api/federations/${F}/models/${v}/weights`);
      expect(res.status, v).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('BAD_REQUEST');
    }
    const res = await app.request(`/api/federations/${F}/models/99`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('v99') });
  });

  it('does not serve, nor audit, a model file corrupted on disk (500 CORRUPT_PAYLOAD)', async () => {
    const record = fed.coordinator.store.getModel(F, 1)!;
    const file = join(fed.dir, record.path);
    const original = readFileSync(file);
    const corrupt = Buffer.from(original);
    corrupt[200] = (corrupt[200] as number) ^ 0xff;
    const audited = () => fed.coordinator.store.listAudit({ federationId: F }).filter((e) => e.kind === 'model.downloaded').length;
    const before = audited();
    writeFileSync(file, corrupt);
    try {
      const res = await app.request(`/api/federations/${F}/models/1/weights`);

      expect(res.status).toBe(500);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('CORRUPT_PAYLOAD');
      expect(body.error.message).toContain('v1');
      expect(audited()).toBe(before);
    } finally {
      writeFileSync(file, original);
    }
    expect((await app.request(`/api/federations/${F}/models/1/weights`)).status).toBe(200);
  });

  it('predicts held-out MNIST digits sent as { pixels } with the published model, mostly right', async () => {
    const mnist = loadMnist();
    const rows = fed.test.slice(0, 40).map((i) => ({ pixels: Array.from(mnist.x.subarray(i * 784, (i + 1) * 784)) }));

    const res = await app.post(`/api/federations/${F}/models/2/predict`, { rows });
    const body = (await res.json()) as { classes: string[]; probabilities: number[][] };

    expect(res.status).toBe(200);
    expect(body.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(body.probabilities).toHaveLength(40);
    const correct = body.probabilities.filter((p, r) => p.indexOf(Math.max(...p)) === mnist.y[fed.test[r]!]).length;
    expect(correct).toBeGreaterThanOrEqual(24); // 60%; chance is 10%
    for (const p of body.probabilities) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('serves the same API over real HTTP on the coordinator port: /health and a verifiable model download', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const health = await fetch(`${fed.coordinator.url}/health`);
    const { coordinatorSignPublicKey } = (await health.json()) as { coordinatorSignPublicKey: string };
    const { spec } = (await (await fetch(`${fed.coordinator.url}/api/federations/${F}`, { headers })).json()) as { spec: ModelSpec };

    const res = await fetch(`${fed.coordinator.url}/api/federations/${F}/models/2/weights`, { headers });
    const bytes = new Uint8Array(await res.arrayBuffer());

    expect(health.status).toBe(200);
    expect(coordinatorSignPublicKey).toBe(toBase64(fed.coordinatorIdentity.signPublicKey));
    expect(res.status).toBe(200);
    expect(verifyDownload(bytes, res.headers, spec, F, fromBase64(coordinatorSignPublicKey))).toEqual({
      digestOk: true,
      specOk: true,
      signatureOk: true,
    });
    const missing = await fetch(`${fed.coordinator.url}/api/federations/missing`, { headers });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe('NOT_FOUND');
  });
});
