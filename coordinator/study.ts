/** The study manifest a federation runs under, derived from its setup: what institutions consent to. */
import { architectureHash, type StudyManifest } from '../protocol/index.js';
import { toBase64, type Identity } from '../crypto/index.js';
import { CohortError } from '../protocol/index.js';
import type { FederationSetup } from './config.js';
import { checkPrivacyRules, plannedBudget } from './privacy.js';

/** The study's privacy settings: the DP budget is what the rules' noise schedule spends, never a free-standing claim. */
function privacyOf(setup: FederationSetup): StudyManifest['privacy'] {
  checkPrivacyRules(setup.rules);
  const budget = plannedBudget(setup.rules);
  if (setup.study.privacy.dp && !budget) {
    throw new CohortError('BAD_REQUEST', 'the study states a DP budget but the rules configure no DP mechanism (rules.dp)');
  }
  if (setup.study.privacy.secureAggregation && !setup.rules.secagg) {
    throw new CohortError('BAD_REQUEST', 'the study promises secure aggregation but the rules do not run it (rules.secagg)');
  }
  const secagg = setup.rules.secagg;
  return { secureAggregation: secagg !== undefined, ...(secagg ? { secAggThreatModel: secagg.threatModel ?? 'malicious' } : {}), ...(budget ? { dp: budget } : {}) };
}

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
    privacy: privacyOf(setup),
    rounds: setup.rules.rounds,
    coordinator: { id: coordinator.id, signPublicKey: toBase64(coordinator.signPublicKey) },
  };
}
