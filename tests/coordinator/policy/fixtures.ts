/** A study, a consent and a policy to vary in tests. */
import { generateIdentity, signConsent, toBase64, type Identity } from '../../../crypto/index.js';
import {
  architectureHash,
  manifestHash,
  parameterCount,
  type ConsentBody,
  type SignedConsent,
  type StudyManifest,
} from '../../../protocol/index.js';
import type { StatsSite, Table } from '../../../node-agent/analytics/index.js';
import { mnistSpec } from '../../../node-agent/data/index.js';

export const site: Identity = generateIdentity('hospital-a');
export const coordinator: Identity = generateIdentity('coordinator');

export function study(overrides: Partial<StudyManifest> = {}): StudyManifest {
  const spec = mnistSpec('mlp');
  return {
    format: 'cohort-study/v2',
    federation: 'trial',
    title: 'Digit recognition',
    purpose: 'Train a handwritten digit classifier for a benchmark.',
    dataCategories: ['images'],
    data: { inputShape: spec.inputShape, classes: spec.classes },
    model: { arch: spec.arch, parameters: parameterCount(spec), specHash: architectureHash(spec) },
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.1 },
    strategy: 'fedavg',
    strategyParams: {},
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

/** `who`'s signed consent to the study's analytics (no training) under `limits`. */
export function analyticsConsent(manifest: StudyManifest, who: Identity, limits: ConsentBody['limits']): SignedConsent {
  return signConsent(consentBody(manifest, { institution: who.id, uses: ['analytics'], limits }), who.signSecretKey);
}

/** An in-process analytics site: `who` answering the study's queries from `table` under its analytics consent with `limits`. */
export function analyticsSite(
  manifest: StudyManifest,
  who: Identity,
  table: Table,
  limits: ConsentBody['limits'],
): { identity: Identity; site: StatsSite } {
  const consent = analyticsConsent(manifest, who, limits);
  const site: StatsSite = {
    identity: who,
    federation: manifest.federation,
    consent: () => ({ consent }),
    study: () => manifest,
    table: () => table,
    maskKeys: new Map(),
  };
  return { identity: who, site };
}

/** DP terms stating `epsilon` (not necessarily what z = 1 over the study's rounds spends: for tests of the figure alone). */
export function dpTerms(epsilon: number, delta = 1e-5): NonNullable<StudyManifest['privacy']['dp']> {
  return { epsilon, delta, noiseMultiplier: 1, clipNorm: 1, sampling: 'coordinator', samplingRate: 1 };
}
