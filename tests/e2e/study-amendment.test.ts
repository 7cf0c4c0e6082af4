/** Binding the participant set to consent: enrolling an institution makes a new study version, which old consents do not cover. */
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { fingerprint, generateIdentity, publicIdentityOf, type Identity } from '../../crypto/index.js';
import { grantSimulatedConsent } from '../../simulations/simulate/consents.js';
import { e2e } from './helpers.js';
import { until } from './raw-client.js';

describe('the study manifest lists every enrolled institution', () => {
  e2e(
    'enrolling one after creation makes version 2 (stored, audited with both hashes); a consent to version 1 no longer covers a task',
    async ({ cohort }) => {
      const fed = await cohort.federation(2, { rounds: 1, minParticipants: 3 });
      const store = fed.coordinator.store;
      const before = store.getFederation('e2e')!;
      const [site1] = fed.institutions as [Identity];
      grantSimulatedConsent(site1, before.manifest, join(fed.dir, 'sites', 'site-1', 'consent.json'), 3);
      const newcomer = generateIdentity('site-3');

      fed.coordinator.enroll(publicIdentityOf(newcomer));
      fed.coordinator.enroll(publicIdentityOf(newcomer)); // the same key again: no new version

      const after = store.getFederation('e2e')!;
      expect(before.manifest).toMatchObject({
        version: 1,
        institutions: fed.institutions.map((i) => ({ id: i.id, fingerprint: fingerprint(i.signPublicKey) })),
      });
      expect(after.manifest.version).toBe(2);
      expect(after.manifest.institutions.map((i) => i.id)).toEqual(['site-1', 'site-2', 'site-3']);
      expect(after.manifest.institutions[2]?.fingerprint).toBe(fingerprint(newcomer.signPublicKey));
      expect(store.listAudit({ federationId: 'e2e', kind: 'study.amended' }).map((e) => e.data)).toEqual([
        expect.objectContaining({
          previousManifestHash: before.manifestHash,
          manifestHash: after.manifestHash,
          version: 2,
          institution: 'site-3',
        }),
      ]);

      const agent = cohort.agent(fed, 0); // presents its consent to version 1
      await agent.ready;
      await until(() => store.latestConsent('e2e', 'site-1') !== undefined, 10_000, 'the consent to be presented');

      expect(fed.coordinator.runner.consents.covers('site-1', 'training', 3)).toMatchObject({
        ok: false,
        code: 'CONSENT_MANIFEST_MISMATCH',
      });
    },
  );

  e2e('re-enrolling an institution under a new key is an amendment too', async ({ cohort }) => {
    const fed = await cohort.federation(2, { rounds: 1, minParticipants: 3 });
    const replaced = generateIdentity('site-2');

    fed.coordinator.enroll(publicIdentityOf(replaced));

    const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
    expect(manifest.version).toBe(2);
    expect(manifest.institutions.find((i) => i.id === 'site-2')?.fingerprint).toBe(fingerprint(replaced.signPublicKey));
  });
});
