/** The study manifest a federation runs under, derived from its setup: what institutions consent to. */
import {
  DEFAULT_MLP_HIDDEN,
  architectureHash,
  compressionOf,
  parameterCount,
  totalParameterCount,
  type StudyManifest,
} from '../protocol/index.js';
import { fingerprint, toBase64, type Identity } from '../crypto/index.js';
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
  const secagg = setup.rules.secagg;
  return {
    secureAggregation: secagg !== undefined,
    ...(secagg ? { secAggThreatModel: secagg.threatModel ?? 'malicious' } : {}),
    ...(budget ? { dp: budget } : {}),
  };
}

/** What the study says about the bound on update norms: present only when its rules set one. */
function updateBoundOf(setup: FederationSetup): Pick<StudyManifest, 'updateBound'> {
  const { maxUpdateNorm, updateNormFactor } = setup.rules;
  if (maxUpdateNorm === undefined && updateNormFactor === undefined) return {};
  return {
    updateBound: {
      ...(maxUpdateNorm !== undefined ? { maxUpdateNorm } : {}),
      ...(updateNormFactor !== undefined ? { normFactor: updateNormFactor } : {}),
    },
  };
}

/** The training every round asks of a site: the rules' settings, with the strategy's own terms (FedProx's mu). */
function trainingOf(setup: FederationSetup): StudyManifest['training'] {
  const { localEpochs, batchSize, learningRate, optimizer, momentum, weightDecay, classWeight } = setup.rules.train;
  const mu = createStrategy(setup.rules.strategy, setup.rules.strategyParams).trainConfig?.proximalMu ?? setup.rules.train.proximalMu;
  const compress = compressionTerm(setup);
  const terms = { optimizer, momentum, weightDecay, classWeight, compress };
  const stated = Object.fromEntries(Object.entries(terms).filter(([, v]) => v !== undefined)) as Partial<typeof terms>;
  return { localEpochs, batchSize, learningRate, ...(mu !== undefined ? { proximalMu: mu } : {}), ...stated };
}

/**
 * The study's update compression, stated only when it compresses; COMPRESSION_UNSUPPORTED with secure aggregation, whose
 * ring Z_(2^32) masks every entry with 32 uniform bits whatever was quantised before (no byte saved), cannot sum top-k
 * entries at indices that differ per site, nor int8 codes on scales that differ per site (docs/performance-communication.md).
 */
function compressionTerm(setup: FederationSetup): string | undefined {
  const compression = compressionOf(setup.rules.train);
  if (compression.mode === 'none') return undefined;
  if (setup.rules.secagg)
    throw new CohortError(
      'COMPRESSION_UNSUPPORTED',
      `update compression ${setup.rules.train.compress} cannot be combined with secure aggregation: a masked entry takes the ring's 32 bits whatever was compressed before`,
    );
  return setup.rules.train.compress;
}

/**
 * Builds the manifest: purpose, data categories, the data's features and classes, the model (architecture, hidden
 * layers, parameter count and hash), the training asked of each site, strategy and its parameters, privacy settings,
 * number of rounds, and who coordinates (with the key that signs its models).
 * @example const manifest = studyManifest(setup, coordinatorIdentity); const hash = manifestHash(manifest)
 */
export function studyManifest(
  setup: FederationSetup,
  coordinator: Identity,
  institutions: readonly { id: string; signPublicKey: Uint8Array }[] = [],
): StudyManifest {
  const { spec } = setup;
  return {
    format: 'cohort-study/v2',
    federation: setup.id,
    title: setup.study.title,
    purpose: setup.study.purpose,
    dataCategories: setup.study.dataCategories,
    data: {
      ...(spec.features ? { features: spec.features } : {}),
      inputShape: spec.inputShape,
      classes: spec.classes,
      ...(spec.task ? { task: spec.task } : {}),
      ...(spec.preprocessing ? { dictionary: spec.preprocessing.columns } : {}),
    },
    model: {
      arch: spec.arch,
      ...(spec.arch === 'mlp' ? { hidden: [...(spec.hidden ?? DEFAULT_MLP_HIDDEN)] } : {}),
      parameters: parameterCount(spec),
      specHash: architectureHash(spec),
      ...(spec.layers
        ? {
            totalParameters: totalParameterCount(spec),
            ...(spec.layers.baseHash ? { baseHash: spec.layers.baseHash } : {}),
            ...(spec.layers.fedbn ? { fedbn: true } : {}),
            ...(spec.layers.trainLayers ? { trainLayers: spec.layers.trainLayers } : {}),
          }
        : {}),
    },
    training: trainingOf(setup),
    strategy: setup.rules.strategy,
    strategyParams: setup.rules.strategyParams,
    privacy: privacyOf(setup),
    rounds: setup.rules.rounds,
    ...updateBoundOf(setup),
    coordinator: { id: coordinator.id, signPublicKey: toBase64(coordinator.signPublicKey) },
    institutions: manifestInstitutions(institutions),
    version: 1,
  };
}

/** The manifest's institution list: id and key fingerprint, sorted by id, one entry per id (the last one given wins). */
function manifestInstitutions(institutions: readonly { id: string; signPublicKey: Uint8Array }[]): StudyManifest['institutions'] {
  const byId = new Map(institutions.map((i) => [i.id, fingerprint(i.signPublicKey)]));
  return [...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, print]) => ({ id, fingerprint: print }));
}

/**
 * The manifest with `institution` listed under its current key: the same manifest when it already is, otherwise the
 * next version (which consents to the previous one no longer cover).
 * @example const next = withInstitution(manifest, publicIdentity); if (next !== manifest) store it and audit study.amended
 */
export function withInstitution(manifest: StudyManifest, institution: { id: string; signPublicKey: Uint8Array }): StudyManifest {
  const listed = manifest.institutions ?? [];
  const print = fingerprint(institution.signPublicKey);
  if (listed.some((i) => i.id === institution.id && i.fingerprint === print)) return manifest;
  const others = listed.filter((i) => i.id !== institution.id);
  const institutions = [...others, { id: institution.id, fingerprint: print }].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ...manifest, institutions, version: (manifest.version ?? 1) + 1 };
}
