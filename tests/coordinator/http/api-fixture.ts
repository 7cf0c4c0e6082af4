/** A coordinator database with a tabular federation, two institutions, two published rounds, signed model files, consents and API tokens of every role: what the API tests read. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { openSqliteStore, type Store } from '../../../coordinator/index.js';
import { FederationSetupSchema } from '../../../coordinator/config.js';
import { studyManifest } from '../../../coordinator/study.js';
import { defaultPolicy, policyHash } from '../../../coordinator/policy/index.js';
import { ModelRegistry } from '../../../coordinator/rounds/model-registry.js';
import { initialWeights } from '../../../coordinator/models/index.js';
import { createApiToken } from '../../../coordinator/auth/index.js';
import { createApi } from '../../../coordinator/http/app.js';
import { manifestHash, type ModelSpec, type NamedTensor } from '../../../protocol/index.js';
import { createModelRunner, type WorkerModelRunner } from '../../../node-agent/train/model-runner.js';
import {
  fingerprint,
  fromHex,
  generateIdentity,
  publicIdentityOf,
  serializePublicIdentity,
  signConsent,
  consentHash,
  toBase64,
  type Identity,
} from '../../../crypto/index.js';

export const FED = 'fed';
export const SPEC: ModelSpec = {
  arch: 'mlp',
  inputShape: [3],
  hidden: [5],
  classes: ['high', 'low', 'mid'],
  features: ['age', 'income', 'bmi'],
  normalization: { mean: [50, 42_000, 26], std: [12, 9_000, 4] },
};

export interface ApiFixture {
  dir: string;
  store: Store;
  coordinator: Identity;
  sites: Identity[];
  tokens: { admin: string; auditor: string; site1: string; site2: string };
  tokenIds: { admin: string; auditor: string; site1: string; site2: string };
  /** The published tensors of each version, for checking predictions. */
  weights: NamedTensor[][];
  /** The TF.js worker the API runs predictions with (started on the first prediction). */
  runner: WorkerModelRunner;
  api(overrides?: Partial<Parameters<typeof createApi>[0]>): ReturnType<typeof createApi>;
  close(): void;
}

/**
 * Builds the fixture in a temporary folder (a real SQLite file, real signed model files).
 * @example const fx = buildApiFixture(); const res = await fx.api().request('/api/whoami', { headers: bearer(fx.tokens.admin) })
 */
export function buildApiFixture(opts: { weights?: (version: number) => NamedTensor[] } = {}): ApiFixture {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-api-'));
  const store = openSqliteStore(join(dir, 'coordinator.db'));
  const coordinator = generateIdentity('coordinator');
  const sites = [generateIdentity('site-1'), generateIdentity('site-2')];
  store.setAuditSigner((hash) => toBase64(nacl.sign.detached(fromHex(hash), coordinator.signSecretKey)));
  const setup = FederationSetupSchema.parse({
    id: FED,
    name: 'API fixture',
    spec: SPEC,
    study: { title: 'API test', purpose: 'Check the API.', dataCategories: ['vitals'] },
    rules: { rounds: 2, minParticipants: 2, train: { localEpochs: 1, batchSize: 10, learningRate: 0.1 } },
  });
  const manifest = studyManifest(setup, coordinator);
  const policy = defaultPolicy();
  const now = Date.now();
  store.createFederation({
    id: FED,
    name: setup.name,
    spec: SPEC,
    config: setup.rules,
    manifest,
    manifestHash: manifestHash(manifest),
    policy,
    policyHash: policyHash(policy),
    status: 'running',
    createdAt: now,
    updatedAt: now,
  });
  store.appendAudit({ federationId: FED, kind: 'federation.created', actor: 'coordinator', data: {} });
  for (const site of sites) {
    store.upsertInstitution({
      federationId: FED,
      id: site.id,
      name: site.id,
      signPublicKey: toBase64(site.signPublicKey),
      boxPublicKey: toBase64(site.boxPublicKey),
      fingerprint: fingerprint(site.signPublicKey),
      status: 'active',
      enrolledAt: now,
    });
    store.appendAudit({ federationId: FED, kind: 'institution.enrolled', actor: 'coordinator', subject: site.id, data: {} });
    const consent = signConsent(
      {
        format: 'cohort-consent/v1',
        institution: site.id,
        federation: FED,
        manifestHash: manifestHash(manifest),
        uses: ['training', 'evaluation'],
        ethicsApproval: { reference: `IRB-${site.id}`, expires: '2099-12-31' },
        dataCategories: ['vitals'],
        dataResidency: 'EU',
        limits: { requireSecureAggregation: false, minOtherInstitutions: 1 },
        grantedAt: new Date(now).toISOString(),
      },
      site.signSecretKey,
    );
    store.addConsent({
      federationId: FED,
      institutionId: site.id,
      consentHash: consentHash(consent),
      body: consent.body,
      signature: consent.signature,
      status: 'active',
      expiresAt: Date.parse('2099-12-31'),
      presentedAt: now,
    });
  }
  const registry = new ModelRegistry({ store, identity: coordinator, dataDir: dir, federation: FED });
  const weightsOf = opts.weights ?? ((v: number) => initialWeights(SPEC, v));
  const weights = [weightsOf(0)];
  registry.publish(SPEC, weights[0]!, null, null);
  for (const round of [1, 2]) {
    store.createRound({
      federationId: FED,
      round,
      state: 'published',
      baseVersion: round - 1,
      resultVersion: round,
      deadline: now + 60_000,
      minParticipants: 2,
      selected: sites.map((s) => s.id),
      startedAt: now,
      closedAt: now + 1000,
      metrics: { participants: 2, samples: 300, trainLoss: 0.5, trainAccuracy: 0.8 },
      policyHash: policyHash(policy),
      decisions: [
        { stage: 'publication', rule: 'minInstitutions', passed: true, value: 2, limit: 2, message: 'ok' },
        { stage: 'publication', rule: 'fairness', passed: round === 1, value: 0.1, limit: 0.25, message: 'gap' },
      ],
    });
    sites.forEach((site, i) => {
      store.addParticipation({
        federationId: FED,
        round,
        institutionId: site.id,
        status: 'accepted',
        samples: 150 + i,
        digest: 'ab'.repeat(32),
        bytes: 1000 + i,
        metrics: { trainLoss: 0.5, trainAccuracy: 0.8, epochs: 1, durationMs: 10 },
        updatedAt: now,
      });
      store.appendAudit({
        federationId: FED,
        kind: 'update.accepted',
        actor: site.id,
        subject: `round:${round}`,
        data: { round, samples: 150 + i },
      });
    });
    weights.push(weightsOf(round));
    registry.publish(SPEC, weights[round]!, round, round - 1);
    store.setModelCard(FED, round, { federation: FED, version: round, round }, 'card-signature');
    store.appendAudit({
      federationId: FED,
      kind: 'model.published',
      actor: 'coordinator',
      subject: `round:${round}`,
      data: { round, version: round },
    });
  }
  const make = (role: 'admin' | 'auditor' | 'institution', institution: string | null) =>
    createApiToken(store, { role, institution }, 'test');
  const admin = make('admin', null);
  const auditor = make('auditor', null);
  const site1 = make('institution', 'site-1');
  const site2 = make('institution', 'site-2');
  const runner = createModelRunner();
  return {
    dir,
    store,
    coordinator,
    sites,
    weights,
    runner,
    tokens: { admin: admin.token, auditor: auditor.token, site1: site1.token, site2: site2.token },
    tokenIds: { admin: admin.record.id, auditor: auditor.record.id, site1: site1.record.id, site2: site2.record.id },
    api: (overrides = {}) =>
      createApi({
        store,
        dataDir: dir,
        coordinatorSignPublicKey: toBase64(coordinator.signPublicKey),
        online: () => ['site-1'],
        startedAt: Date.now(),
        authFailureLimit: { max: 1000, windowMs: 60_000 },
        modelRunner: runner,
        ...overrides,
      }),
    close() {
      void runner.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Authorization header of a token. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A new institution's public identity file, as `cohort keys generate` writes it. */
export function publicIdentityDoc(id: string): Record<string, unknown> {
  return JSON.parse(serializePublicIdentity(publicIdentityOf(generateIdentity(id)))) as Record<string, unknown>;
}

/** The app with an auditor token sent on every request (roles and their limits are tested in api.test.ts). */
export function withToken(app: ReturnType<typeof createApi>, token: string) {
  const authorization = `Bearer ${token}`;
  return {
    request: (path: string) => app.request(path, { headers: { authorization } }),
    post: (path: string, body: unknown) =>
      app.request(path, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  };
}
