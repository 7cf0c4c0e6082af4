/** The study manifest a federation runs under, derived from its setup: what institutions consent to. */
import { DEFAULT_MLP_HIDDEN, architectureHash, parameterCount, type StudyManifest } from '../protocol/index.js';
import { toBase64, type Identity } from '../crypto/index.js';
import { CohortError } from '../protocol/index.js';
import type { FederationSetup } from './config.js';
import { checkPrivacyRules, plannedBudget } from './privacy.js';
import { createStrategy } from './strategies/index.js';

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
  return { secureAggregation: setup.rules.secagg !== undefined, ...(budget ? { dp: budget } : {}) };
}

/** What the study says about the bound on update norms: present only when its rules set one. */
function updateBoundOf(setup: FederationSetup): Pick<StudyManifest, 'updateBound'> {
  const { maxUpdateNorm, updateNormFactor } = setup.rules;
  if (maxUpdateNorm === undefined && updateNormFactor === undefined) return {};
  return { updateBound: { ...(maxUpdateNorm !== undefined ? { maxUpdateNorm } : {}), ...(updateNormFactor !== undefined ? { normFactor: updateNormFactor } : {}) } };
}

/** The training every round asks of a site: the rules' settings, with the strategy's own terms (FedProx's mu). */
function trainingOf(setup: FederationSetup): StudyManifest['training'] {
  const { localEpochs, batchSize, learningRate } = setup.rules.train;
  const mu = createStrategy(setup.rules.strategy, setup.rules.strategyParams).trainConfig?.proximalMu ?? setup.rules.train.proximalMu;
  return { localEpochs, batchSize, learningRate, ...(mu !== undefined ? { proximalMu: mu } : {}) };
}

/**
 * Builds the manifest: purpose, data categories, the data's features and classes, the model (architecture, hidden
 * layers, parameter count and hash), the training asked of each site, strategy and its parameters, privacy settings,
 * number of rounds, and who coordinates (with the key that signs its models).
 * @example const manifest = studyManifest(setup, coordinatorIdentity); const hash = manifestHash(manifest)
 */
export function studyManifest(setup: FederationSetup, coordinator: Identity): StudyManifest {
  const { spec } = setup;
  return {
    format: 'cohort-study/v2',
    federation: setup.id,
    title: setup.study.title,
    purpose: setup.study.purpose,
    dataCategories: setup.study.dataCategories,
    data: { ...(spec.features ? { features: spec.features } : {}), inputShape: spec.inputShape, classes: spec.classes },
    model: { arch: spec.arch, ...(spec.arch === 'mlp' ? { hidden: [...(spec.hidden ?? DEFAULT_MLP_HIDDEN)] } : {}), parameters: parameterCount(spec), specHash: architectureHash(spec) },
    training: trainingOf(setup),
    strategy: setup.rules.strategy,
    strategyParams: setup.rules.strategyParams,
    privacy: privacyOf(setup),
    rounds: setup.rules.rounds,
    ...updateBoundOf(setup),
    coordinator: { id: coordinator.id, signPublicKey: toBase64(coordinator.signPublicKey) },
  };
}
