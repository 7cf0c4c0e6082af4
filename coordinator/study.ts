/** The study manifest a federation runs under, derived from its setup: what institutions consent to. */
import { architectureHash, type StudyManifest } from '../protocol/index.js';
import { toBase64, type Identity } from '../crypto/index.js';
import type { FederationSetup } from './config.js';

/**
 * Builds the manifest: purpose, data categories, model architecture and its hash, strategy,
 * privacy settings, number of rounds, and who coordinates (with the key that signs its models).
 * @example const manifest = studyManifest(setup, coordinatorIdentity); const hash = manifestHash(manifest)
 */
export function studyManifest(setup: FederationSetup, coordinator: Identity): StudyManifest {
  return {
    format: 'cohort-study/v1',
    federation: setup.id,
    title: setup.study.title,
    purpose: setup.study.purpose,
    dataCategories: setup.study.dataCategories,
    model: { arch: setup.spec.arch, specHash: architectureHash(setup.spec) },
    strategy: setup.rules.strategy,
    privacy: setup.study.privacy,
    rounds: setup.rules.rounds,
    coordinator: { id: coordinator.id, signPublicKey: toBase64(coordinator.signPublicKey) },
  };
}
