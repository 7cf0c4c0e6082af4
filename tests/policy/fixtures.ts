/** A study, a consent and a policy to vary in tests. */
import { generateIdentity, signConsent, toBase64, type Identity } from '../../crypto/index.js';
import { architectureHash, manifestHash, type ConsentBody, type SignedConsent, type StudyManifest } from '../../protocol/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';

export const site: Identity = generateIdentity('hospital-a');
export const coordinator: Identity = generateIdentity('coordinator');

export function study(overrides: Partial<StudyManifest> = {}): StudyManifest {
  const spec = mnistSpec('mlp');
  return {
    format: 'cohort-study/v1',
    federation: 'trial',
    title: 'Digit recognition',
    purpose: 'Train a handwritten digit classifier for a benchmark.',
    dataCategories: ['images'],
    model: { arch: spec.arch, specHash: architectureHash(spec) },
    strategy: 'fedavg',
    privacy: { secureAggregation: false },
    rounds: 10,
    coordinator: { id: 'coordinator', signPublicKey: toBase64(coordinator.signPublicKey) },
    institutions: [],
    version: 1,
    ...overrides,
  };
}

export function consentBody(manifest: StudyManifest, overrides: Partial<ConsentBody> = {}): ConsentBody {
  return {
    format: 'cohort-consent/v1',
    institution: site.id,
    federation: manifest.federation,
    manifestHash: manifestHash(manifest),
    uses: ['training', 'evaluation'],
    ethicsApproval: { reference: 'IRB-2026-0042', expires: '2099-12-31' },
    dataCategories: ['images'],
    dataResidency: 'EU',
    limits: { requireSecureAggregation: false, minOtherInstitutions: 1 },
    grantedAt: '2026-11-01T09:00:00.000Z',
    ...overrides,
  };
}

export function consent(manifest: StudyManifest, overrides: Partial<ConsentBody> = {}): SignedConsent {
  return signConsent(consentBody(manifest, overrides), site.signSecretKey);
}
