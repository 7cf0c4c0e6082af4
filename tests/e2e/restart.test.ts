import { describe, expect } from 'vitest';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import { fingerprint, generateIdentity, publicIdentityOf } from '../../crypto/index.js';
import { e2e, startAgent } from './helpers.js';

describe('a coordinator restarted on the same database', () => {
  e2e(
    'keeps every published model and the audit chain, fails the interrupted round cleanly, and the agents reconnect by themselves to finish',
    async ({ cohort }) => {
      const f = await cohort.federation(
        2,
        { rounds: 3, minParticipants: 2, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
        'logreg',
        150,
      );
      cohort.agents.push(startAgent(f, 0), startAgent(f, 1));
      const firstPublished = new Promise<void>((resolve) => f.coordinator.runner.once('round:published', () => resolve()));
      await firstPublished;
      const before = f.coordinator.store.getModel('e2e', 1)!;

      await f.restart();
      const done = await Promise.all(cohort.agents.map((a) => a.done));

      const { store } = f.coordinator;
      expect(done[0]).toMatchObject({ rounds: 3 });
      expect(store.getModel('e2e', 1)).toEqual(before);
      const rounds = store.listRounds('e2e');
      expect(rounds.filter((r) => r.state === 'published')).toHaveLength(3);
      expect(
        rounds
          .filter((r) => r.state !== 'published')
          .every((r) => r.state === 'failed' && r.reason === 'coordinator restarted during the round'),
      ).toBe(true);
      expect(store.listModels('e2e').map((m) => m.version)).toEqual([0, 1, 2, 3]);
      expect(verifyAuditTable(store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
    },
  );
});

describe('a coordinator restarted with another setup or enrolment', () => {
  e2e(
    'refuses to start when the given rules, spec or study differ from the stored federation, naming each field, and starts with the stored setup',
    async ({ cohort }) => {
      const f = await cohort.federation(1, { rounds: 2 });
      const stored = f.coordinator.store.getFederation('e2e')!;
      const given = {
        id: 'e2e',
        name: stored.name,
        spec: { ...stored.spec, arch: 'mlp' as const, hidden: [8] },
        study: { title: 'Another title', purpose: stored.manifest.purpose, dataCategories: stored.manifest.dataCategories },
        rules: { ...stored.config, strategy: 'fedadam', rounds: 5 },
      };

      const refused = await f.restart({ federation: given }).then(
        () => undefined,
        (err: Error) => err,
      );
      await f.restart(); // the stored setup: starts

      expect(refused?.message).toMatch(/^federation e2e is stored with another setup, and the store is the source of truth: /);
      for (const field of [
        'rules.rounds (stored 2, given 5)',
        'rules.strategy (stored "fedavg", given "fedadam")',
        'spec.arch',
        'spec.hidden',
        'study.title',
      ])
        expect(refused?.message).toContain(field);
      expect(f.coordinator.store.getFederation('e2e')?.config).toEqual(stored.config);
      expect(f.coordinator.runner.activeRound?.state).toBe('waiting');
    },
  );

  e2e(
    'keeps a suspended institution suspended when it is enrolled again (audited), and audits a replaced key as such',
    async ({ cohort }) => {
      const f = await cohort.federation(2);
      const { store } = f.coordinator;
      store.upsertInstitution({ ...store.getInstitution('e2e', 'site-1')!, status: 'suspended' });
      const oldKey = store.getInstitution('e2e', 'site-2')!.fingerprint;
      const rotated = generateIdentity('site-2');

      await f.restart({ institutions: [publicIdentityOf(f.institutions[0]!), publicIdentityOf(rotated)] });

      const audits = (kind: string) => store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === kind);
      expect(store.getInstitution('e2e', 'site-1')?.status).toBe('suspended');
      expect(audits('institution.reenrolment.ignored')).toMatchObject([
        { actor: 'coordinator', subject: 'site-1', data: { status: 'suspended' } },
      ]);
      expect(store.getInstitution('e2e', 'site-2')).toMatchObject({ status: 'active', fingerprint: fingerprint(rotated.signPublicKey) });
      expect(audits('institution.key.replaced')).toMatchObject([
        { subject: 'site-2', data: { previousFingerprint: oldKey, fingerprint: fingerprint(rotated.signPublicKey) } },
      ]);
    },
  );
});
