/** The Store contract as one suite: every Store implementation runs these same cases. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { CohortError } from '../../../protocol/errors.js';
import { canonicalJson } from '../../../protocol/model-spec.js';
import { fromHex, generateIdentity, toBase64, verifyChain } from '../../../crypto/index.js';
import type { ModelSpec } from '../../../protocol/model-spec.js';
import type { StudyManifest } from '../../../protocol/study.js';
import { defaultPolicy } from '../../../coordinator/policy/index.js';
import type { FederationConfig, NewFederation, NewInstitution, NewRound, Store } from '../../../coordinator/store/index.js';

export const spec: ModelSpec = { arch: 'logreg', inputShape: [4], classes: ['benign', 'malignant'] };
export const config: FederationConfig = {
  rounds: 5,
  minParticipants: 2,
  fraction: 1,
  roundTimeoutMs: 60_000,
  waitTimeoutMs: 30_000,
  joinGraceMs: 0,
  maxConsecutiveFailures: 3,
  strategyParams: {},
  evaluationTimeoutMs: 60_000,
  train: { localEpochs: 1, batchSize: 32, learningRate: 0.1 },
  strategy: 'fedavg',
  seed: 7,
};
export const manifest: StudyManifest = {
  format: 'cohort-study/v2',
  federation: 'fed-a',
  title: 'Tumour classification',
  purpose: 'Classify tumours as benign or malignant.',
  dataCategories: ['pathology'],
  data: { features: ['size', 'shape'], inputShape: [2], classes: ['benign', 'malignant'] },
  model: { arch: 'logreg', parameters: 6, specHash: 'c'.repeat(64) },
  training: { localEpochs: 1, batchSize: 32, learningRate: 0.1 },
  strategy: 'fedavg',
  strategyParams: {},
  privacy: { secureAggregation: false },
  rounds: 5,
  coordinator: { id: 'coordinator', signPublicKey: 'A'.repeat(44) },
  institutions: [],
  version: 1,
};
export const federation: NewFederation = {
  id: 'fed-a',
  name: 'Hospitals A',
  spec,
  config,
  manifest,
  manifestHash: 'a'.repeat(64),
  policy: defaultPolicy(),
  policyHash: 'b'.repeat(64),
  createdAt: 1000,
  updatedAt: 1000,
};
export const institution = (id: string): NewInstitution => ({
  federationId: 'fed-a',
  id,
  name: `Institution ${id}`,
  signPublicKey: `sign-${id}`,
  boxPublicKey: `box-${id}`,
  fingerprint: `fp-${id}`,
  enrolledAt: 2000,
});
export const round = (n: number): NewRound => ({
  federationId: 'fed-a',
  round: n,
  state: 'waiting',
  baseVersion: n - 1,
  deadline: 10_000 + n,
  minParticipants: 2,
  selected: ['inst-1', 'inst-2'],
  startedAt: 3000 + n,
});

/** A CohortError with `code`, for `toThrow` checks. */
function withCode(code: string) {
  return expect.objectContaining({ name: 'CohortError', code });
}

/** Runs the Store contract against stores made by `open` (a fresh, empty store per test). */
export function storeCases(label: string, open: () => Store): void {
  describe(`Store contract (${label})`, () => {
    let store: Store;
    beforeEach(() => {
      store = open();
      store.createFederation(federation);
    });
    afterEach(() => store.close());

    it('round-trips a federation with its JSON spec and config, and updates its status', () => {
      const updated = store.updateFederationStatus('fed-a', 'running', 5000);

      expect(store.getFederation('fed-a')).toEqual({ ...federation, status: 'running', updatedAt: 5000 });
      expect(updated.status).toBe('running');
      expect(store.listFederations().map((f) => f.id)).toEqual(['fed-a']);
      expect(store.getFederation('nope')).toBeUndefined();
      expect(() => store.createFederation(federation)).toThrow(withCode('DUPLICATE'));
    });

    it('enrols, re-enrols and touches institutions', () => {
      store.upsertInstitution(institution('inst-2'));
      store.upsertInstitution(institution('inst-1'));

      const again = store.upsertInstitution({ ...institution('inst-1'), signPublicKey: 'new-key', enrolledAt: 9999 });
      store.touchInstitution('fed-a', 'inst-2', 7777);

      expect(again).toEqual({ ...institution('inst-1'), signPublicKey: 'new-key', status: 'active', lastSeenAt: null });
      expect(store.getInstitution('fed-a', 'inst-2')?.lastSeenAt).toBe(7777);
      expect(store.listInstitutions('fed-a').map((i) => i.id)).toEqual(['inst-1', 'inst-2']);
      expect(store.getInstitution('fed-a', 'inst-3')).toBeUndefined();
      expect(() => store.upsertInstitution({ ...institution('x'), federationId: 'no-such-fed' })).toThrow(withCode('NOT_FOUND'));
    });

    it('round-trips rounds and lets their state change only along the state machine', () => {
      store.createRound(round(1));
      store.createRound(round(2));

      store.updateRound('fed-a', 1, { state: 'training' });
      const metrics = { participants: 2, samples: 300, trainLoss: 0.5, trainAccuracy: 0.8, valAccuracy: 0.75 };
      store.updateRound('fed-a', 1, { state: 'aggregating' });
      store.updateRound('fed-a', 1, { state: 'evaluating' });
      const published = store.updateRound('fed-a', 1, { state: 'published', resultVersion: 1, closedAt: 4000, metrics });

      expect(published).toEqual({
        ...round(1),
        state: 'published',
        resultVersion: 1,
        closedAt: 4000,
        reason: null,
        metrics,
        policyHash: null,
        decisions: null,
      });
      expect(store.getRound('fed-a', 1)).toEqual(published);
      expect(() => store.updateRound('fed-a', 2, { state: 'published' })).toThrow(/waiting -> published/);
      expect(store.getRound('fed-a', 2)?.state).toBe('waiting');
      expect(() => store.updateRound('fed-a', 9, { reason: 'x' })).toThrow(/does not exist/);
      expect(store.listRounds('fed-a').map((r) => r.round)).toEqual([1, 2]);
      expect(store.latestRound('fed-a')?.round).toBe(2);
      expect(store.latestRound('fed-b')).toBeUndefined();
      expect(() => store.createRound(round(1))).toThrow(withCode('DUPLICATE'));
    });

    it('records participations once per institution and round', () => {
      store.upsertInstitution(institution('inst-1'));
      store.upsertInstitution(institution('inst-2'));
      store.createRound(round(1));
      store.addParticipation({ federationId: 'fed-a', round: 1, institutionId: 'inst-2', status: 'selected', updatedAt: 1 });
      store.addParticipation({ federationId: 'fed-a', round: 1, institutionId: 'inst-1', status: 'selected', updatedAt: 1 });
      const metrics = { trainLoss: 0.4, trainAccuracy: 0.9, epochs: 1, durationMs: 12 };

      const accepted = store.updateParticipation('fed-a', 1, 'inst-1', {
        status: 'accepted',
        samples: 120,
        digest: 'ab'.repeat(32),
        bytes: 4096,
        metrics,
        updatedAt: 50,
      });

      expect(accepted).toMatchObject({
        status: 'accepted',
        samples: 120,
        digest: 'ab'.repeat(32),
        bytes: 4096,
        metrics,
        updatedAt: 50,
        code: null,
      });
      expect(store.getParticipation('fed-a', 1, 'inst-1')).toEqual(accepted);
      expect(store.listParticipations('fed-a', 1).map((p) => p.institutionId)).toEqual(['inst-2', 'inst-1']);
      expect(store.listParticipations('fed-a', 2)).toEqual([]);
      expect(store.listParticipations('fed-a')).toHaveLength(2);
      expect(() =>
        store.addParticipation({ federationId: 'fed-a', round: 1, institutionId: 'inst-1', status: 'selected', updatedAt: 2 }),
      ).toThrow(withCode('DUPLICATE'));
      expect(() =>
        store.addParticipation({ federationId: 'fed-a', round: 5, institutionId: 'inst-1', status: 'selected', updatedAt: 2 }),
      ).toThrow(withCode('NOT_FOUND'));
      expect(() => store.updateParticipation('fed-a', 1, 'inst-9', { status: 'dropped' })).toThrow(/does not exist/);
    });

    it('stores model versions and finds the latest', () => {
      const v0 = {
        federationId: 'fed-a',
        version: 0,
        round: null,
        parentVersion: null,
        digest: '00'.repeat(32),
        specHash: 'sh',
        signature: 'sig0',
        path: 'models/fed-a/v0.cohort',
        bytes: 100,
        createdAt: 1,
      };

      store.insertModel(v0);
      store.insertModel({ ...v0, version: 1, round: 1, parentVersion: 0, digest: '11'.repeat(32), path: 'models/fed-a/v1.cohort' });

      expect(store.getModel('fed-a', 0)).toEqual({ ...v0, card: null, cardSignature: null });
      expect(store.latestModel('fed-a')).toMatchObject({ version: 1, round: 1, parentVersion: 0 });
      expect(store.listModels('fed-a').map((m) => m.version)).toEqual([0, 1]);
      expect(store.getModel('fed-a', 2)).toBeUndefined();
      expect(() => store.insertModel(v0)).toThrow(withCode('DUPLICATE'));
    });

    it('appends audit events in order and pages through them; it offers no way to change them', () => {
      const first = store.appendAudit({
        ts: 10,
        federationId: 'fed-a',
        kind: 'federation.created',
        actor: 'coordinator',
        subject: null,
        data: { rounds: 5 },
      });
      store.appendAudit({ federationId: null, kind: 'auth.failed', actor: 'unknown', data: {} });
      const third = store.appendAudit({
        ts: 30,
        federationId: 'fed-a',
        kind: 'update.accepted',
        actor: 'inst-1',
        subject: 'round/1',
        data: { samples: 120 },
      });

      const all = store.listAudit();

      expect(all.map((e) => e.kind)).toEqual(['federation.created', 'auth.failed', 'update.accepted']);
      expect(all[0]).toMatchObject({
        id: first.id,
        ts: 10,
        federationId: 'fed-a',
        kind: 'federation.created',
        actor: 'coordinator',
        subject: null,
        data: { rounds: 5 },
      });
      expect(all[1]?.ts).toBeGreaterThan(1_600_000_000_000);
      expect(store.listAudit({ federationId: 'fed-a' }).map((e) => e.id)).toEqual([first.id, third.id]);
      expect(store.listAudit({ afterId: first.id, limit: 1 }).map((e) => e.kind)).toEqual(['auth.failed']);
      const methods = [...Object.keys(store), ...Object.getOwnPropertyNames(Object.getPrototypeOf(store))];
      expect(methods.filter((k) => /audit/i.test(k)).sort()).toEqual([
        'appendAudit',
        'countAudit',
        'listAudit',
        'listAuditRows',
        'setAuditSigner',
      ]);
    });

    it('filters audit events by kind, institution and text, counts them, and pages newest first', () => {
      store.appendAudit({ federationId: 'fed-a', kind: 'update.accepted', actor: 'inst-1', subject: 'round:1', data: { samples: 120 } });
      store.appendAudit({ federationId: 'fed-a', kind: 'update.accepted', actor: 'inst-2', subject: 'round:1', data: { samples: 80 } });
      store.appendAudit({
        federationId: 'fed-a',
        kind: 'institution.suspended',
        actor: 'token:tok_1',
        subject: 'inst-2',
        data: { reason: 'Key 100% lost_' },
      });
      store.appendAudit({ federationId: null, kind: 'token.created', actor: 'cli', subject: 'token:tok_1', data: {} });

      expect(store.countAudit()).toBe(4);
      expect(store.countAudit({ federationId: 'fed-a', kind: 'update.accepted' })).toBe(2);
      expect(store.listAudit({ institution: 'inst-2' }).map((e) => e.kind)).toEqual(['update.accepted', 'institution.suspended']);
      expect(store.listAudit({ text: '100% LOST_' }).map((e) => e.kind)).toEqual(['institution.suspended']);
      expect(store.countAudit({ text: '%' })).toBe(1); // % and _ are matched literally
      expect(store.listAudit({ order: 'desc', limit: 2, offset: 1 }).map((e) => e.kind)).toEqual([
        'institution.suspended',
        'update.accepted',
      ]);
      expect(store.listAudit({ offset: 3 }).map((e) => e.kind)).toEqual(['token.created']);
    });

    it('stores API tokens by hash, finds them by hash, revokes and touches them', () => {
      const row = store.createApiToken({
        id: 'tok_a',
        hash: 'ab'.repeat(32),
        role: 'institution',
        institutionId: 'inst-1',
        label: 'site',
        createdAt: 5,
      });

      expect(row).toMatchObject({ id: 'tok_a', role: 'institution', institutionId: 'inst-1', revokedAt: null, lastUsedAt: null });
      expect(store.getApiTokenByHash('ab'.repeat(32))?.id).toBe('tok_a');
      expect(store.getApiTokenByHash('cd'.repeat(32))).toBeUndefined();
      expect(() => store.createApiToken({ id: 'tok_b', hash: 'ab'.repeat(32), role: 'admin', createdAt: 6 })).toThrow(
        withCode('DUPLICATE'),
      );
      store.touchApiToken('tok_a', 77);
      expect(store.getApiToken('tok_a')?.lastUsedAt).toBe(77);
      expect(store.revokeApiToken('tok_a', 99).revokedAt).toBe(99);
      expect(store.listApiTokens().map((t) => [t.id, t.revokedAt])).toEqual([['tok_a', 99]]);
      expect(() => store.revokeApiToken('nope')).toThrow(
        expect.objectContaining({ code: 'NOT_FOUND', message: expect.stringMatching(/does not exist/) }),
      );
    });

    it('chains every audit event to the one before and signs it with the signer it was given', () => {
      const key = generateIdentity('coordinator');
      store.setAuditSigner((hash) => toBase64(nacl.sign.detached(fromHex(hash), key.signSecretKey)));
      store.appendAudit({ ts: 1, federationId: 'fed-a', kind: 'federation.created', actor: 'coordinator', data: { z: 1, a: [2, 3] } });
      store.appendAudit({ ts: 2, federationId: 'fed-a', kind: 'round.started', actor: 'coordinator', subject: 'round:1', data: {} });

      const rows = store.listAuditRows();
      const entries = rows.map((r) => ({
        seq: r.id,
        prevHash: r.prevHash,
        hash: r.hash,
        signature: r.signature,
        body: canonicalJson({
          seq: r.id,
          ts: r.ts,
          federation: r.federationId,
          kind: r.kind,
          actor: r.actor,
          subject: r.subject,
          data: JSON.parse(r.data),
        }),
      }));

      expect(rows[0]?.data).toBe('{"a":[2,3],"z":1}');
      expect(rows[1]?.prevHash).toBe(rows[0]?.hash);
      expect(verifyChain(entries, key.signPublicKey)).toMatchObject({ ok: true, entries: 2 });
    });

    it('rolls a transaction back when it throws, including nested ones', () => {
      const attempt = () =>
        store.transaction(() => {
          store.createRound(round(1));
          store.transaction(() => store.appendAudit({ kind: 'round.started', actor: 'coordinator', data: {} }));
          throw new Error('boom');
        });

      expect(attempt).toThrow('boom');
      expect(store.getRound('fed-a', 1)).toBeUndefined();
      expect(store.listAudit()).toEqual([]);
      expect(store.transaction(() => store.createRound(round(1)).round)).toBe(1);
    });

    it('turns a constraint failure into a CohortError', () => {
      let caught: unknown;
      try {
        store.createFederation(federation);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CohortError);
      expect((caught as CohortError).message).toBe('federation fed-a already exists');
    });
  });
}
