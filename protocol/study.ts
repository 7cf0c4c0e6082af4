/** A study (what a federation is for) and an institution's consent to it: schemas and content hashes. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ArchSchema, canonicalJson, TaskSchema, type ModelSpec } from './model-spec.js';
import { DpTermsSchema } from './dp-terms.js';
import { CompressionTermSchema } from './compression.js';
import { DictionaryColumnSchema } from './data-dictionary.js';
import type { ErrorCode } from './errors.js';
import { TrainLayersSchema } from './layers-spec.js';

const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

/** `analytics`: the site answers descriptive-statistics queries (protocol/analytics.ts), with its minimum cell size. */
export const USES = ['training', 'evaluation', 'analytics'] as const;
export const UseSchema = z.enum(USES);
export type Use = z.infer<typeof UseSchema>;

export const PrivacySettingsSchema = z.object({
  secureAggregation: z.boolean(),
  /**
   * Under secure aggregation, whom its threshold resists: 'malicious' (t > 2h/3 of each participant's h share holders,
   * an active coordinator with fewer than h/3 colluding sites) or 'semi-honest' (t > h/2). A site refuses a round whose
   * threshold is below what this model allows. Absent: 'malicious'.
   */
  secAggThreatModel: z.enum(['malicious', 'semi-honest']).optional(),
  /** Client-level DP: the mechanism's terms and the budget they spend over all the study's rounds; absent: no DP. */
  dp: DpTermsSchema.optional(),
});
export type PrivacySettings = z.infer<typeof PrivacySettingsSchema>;

const positiveInt = z.number().int().positive();

/** What each site's rows must hold and what the model predicts (from the model spec): the data a site agrees to use. */
export const StudyDataSchema = z
  .object({
    /** Feature columns, in order (tabular studies); absent for images. */
    features: z.array(z.string().min(1)).max(100_000).optional(),
    inputShape: z.array(positiveInt).min(1).max(3),
    /** The output names (see ModelSpec.classes): class names, [negative, positive], label or target columns. */
    classes: z.array(z.string().min(1)).min(1).max(10_000),
    /** What the model predicts from the data; absent: classification. */
    task: TaskSchema.optional(),
    /** The data dictionary (tabular studies with preprocessing): each column's type, unit, range, categories, missing. */
    dictionary: z.array(DictionaryColumnSchema).max(100_000).optional(),
  })
  .strict();

/**
 * The model a site's data trains: architecture, hidden layers, parameter count (those that travel), and the
 * architecture's hash (for 'layers': the topology and every tensor's name, shape and role). A 'layers' model also
 * pins its base (`baseHash`: the frozen and FedBN-local tensors each site must hold) and states `totalParameters`.
 */
export const StudyModelSchema = z
  .object({
    arch: ArchSchema,
    hidden: z.array(positiveInt).max(8).optional(),
    parameters: positiveInt,
    specHash: hex64,
    totalParameters: positiveInt.optional(),
    baseHash: hex64.optional(),
    fedbn: z.boolean().optional(),
    /** Fine-tuning: which layers train and travel (head, last-block, all); the rest stay frozen at every site. */
    trainLayers: TrainLayersSchema.optional(),
  })
  .strict();

/**
 * How a site trains, beyond epochs, batch and learning rate; each absent means today's default (plain SGD, no weight
 * decay, unweighted loss). The optimizer and its state are re-created every round (nothing carries between rounds).
 */
export const TrainingTermsShape = {
  /** sgd (default), momentum (heavy ball, `momentum`, default 0.9) or adam. */
  optimizer: z.enum(['sgd', 'momentum', 'adam']).optional(),
  momentum: z.number().min(0).max(0.9999).optional(),
  /** Decoupled (AdamW) for adam; an L2 term (lambda/2)·||w||² in the loss for sgd and momentum. */
  weightDecay: z.number().min(0).max(1).optional(),
  /** balanced: sample weights n / (k · n_c) from the site's own training-label counts (classification, binary). */
  classWeight: z.literal('balanced').optional(),
  /** What a site sends of its update (protocol/compression.ts): none (absent), fp16, int8 or topk:FRACTION of its delta. */
  compress: CompressionTermSchema.optional(),
};

/** The local training every round asks of a site (the round's DP clipping is stated under privacy). */
export const StudyTrainingSchema = z
  .object({
    localEpochs: positiveInt,
    batchSize: positiveInt,
    learningRate: z.number().positive(),
    /** FedProx's proximal term, when the strategy sets one. */
    proximalMu: z.number().min(0).optional(),
    ...TrainingTermsShape,
  })
  .strict();
export type StudyTraining = z.infer<typeof StudyTrainingSchema>;

/**
 * A study manifest: the federation's purpose and everything an ethics board approves, including what the site's
 * data is used for (features and classes), the model, the training asked of each site and the strategy.
 * Its content hash (SHA-256 of the canonical JSON) is what institutions consent to.
 */
export const StudyManifestSchema = z
  .object({
    format: z.literal('cohort-study/v2'),
    federation: id,
    title: z.string().min(1).max(300),
    purpose: z.string().min(1).max(4000),
    dataCategories: z.array(z.string().min(1).max(100)).min(1).max(100),
    data: StudyDataSchema,
    model: StudyModelSchema,
    training: StudyTrainingSchema,
    strategy: z.string().min(1).max(64),
    strategyParams: z.record(z.string(), z.union([z.number(), z.string()])),
    privacy: PrivacySettingsSchema,
    rounds: z.number().int().min(1).max(100_000),
    /** The bound on each update's L2 distance from the global model, when the study sets one (absent: the default bound). */
    updateBound: z
      .object({ maxUpdateNorm: z.number().positive().optional(), normFactor: z.number().min(1).optional() })
      .strict()
      .optional(),
    coordinator: z.object({ id, signPublicKey: z.string().min(40).max(64) }),
    /**
     * Every enrolled institution with the fingerprint of its signing key, sorted by id: who a site agrees to aggregate
     * with. Enrolling an institution (or replacing its key) makes a new manifest version, which existing consents do
     * not cover; a site refuses a secure round with a participant not listed here.
     */
    institutions: z
      .array(z.object({ id, fingerprint: z.string().regex(/^[0-9a-f]{4}(:[0-9a-f]{4}){7}$/, 'a key fingerprint') }).strict())
      .max(10_000),
    /** 1 at creation, +1 at each amendment (a new institution). */
    version: z.number().int().min(1),
  })
  .strict();
export type StudyManifest = z.infer<typeof StudyManifestSchema>;

/** SHA-256 (hex) of a value's canonical JSON. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * SHA-256 (hex) of a model spec's canonical JSON, without its data-derived normalisation and imputation values (a
 * pooled channel normalisation counts by its source only).
 */
export function architectureHash(spec: ModelSpec): string {
  const { normalization: _n, preprocessing, channelNormalization: channel, ...rest } = spec;
  const architecture = channel ? { ...rest, channelNormalization: { source: channel.source } } : rest;
  return contentHash(preprocessing ? { ...architecture, preprocessing: { columns: preprocessing.columns } } : architecture);
}

/**
 * The manifest's content hash: what consents name.
 * @example manifestHash(manifest) // '3f1c…'
 */
export function manifestHash(manifest: StudyManifest): string {
  return contentHash(manifest);
}

/** What an institution signs when it consents. */
export const ConsentBodySchema = z
  .object({
    format: z.literal('cohort-consent/v1'),
    institution: id,
    federation: id,
    manifestHash: hex64,
    uses: z.array(UseSchema).min(1),
    ethicsApproval: z.object({ reference: z.string().min(1).max(200), expires: isoDate }),
    dataCategories: z.array(z.string().min(1).max(100)).min(1),
    /** Where the institution's data resides (a jurisdiction tag such as EU, US-CA), checked against the policy. */
    dataResidency: z.string().min(1).max(64),
    limits: z
      .object({
        maxEpsilon: z.number().positive().optional(),
        requireSecureAggregation: z.boolean(),
        minOtherInstitutions: z.number().int().min(0).max(10_000),
        /** Analytics: the smallest count the site reveals (1..k-1 are suppressed); absent: DEFAULT_MIN_CELL_SIZE (5). */
        minCellSize: z.number().int().min(1).max(1_000_000).optional(),
        /** Analytics: the largest epsilon one query may spend; set, every count answer gets DP noise at this epsilon or below. */
        analyticsEpsilon: z.number().positive().finite().optional(),
      })
      .strict(),
    grantedAt: z.string().datetime(),
  })
  .strict();
export type ConsentBody = z.infer<typeof ConsentBodySchema>;

/** What an institution signs to withdraw a consent. */
export const RevocationBodySchema = z
  .object({
    format: z.literal('cohort-revocation/v1'),
    institution: id,
    federation: id,
    consentHash: hex64,
    reason: z.string().max(1000),
    revokedAt: z.string().datetime(),
  })
  .strict();
export type RevocationBody = z.infer<typeof RevocationBodySchema>;

/** A signed document: the body and the Ed25519 signature (base64) over its canonical JSON. */
export const SignedConsentSchema = z.object({ body: ConsentBodySchema, signature: z.string().min(80).max(100) }).strict();
export type SignedConsent = z.infer<typeof SignedConsentSchema>;
export const SignedRevocationSchema = z.object({ body: RevocationBodySchema, signature: z.string().min(80).max(100) }).strict();
export type SignedRevocation = z.infer<typeof SignedRevocationSchema>;

/** Reason codes an agent sends when its own consent refuses a task. */
export const ConsentRefusal = {
  NO_CONSENT: 'CONSENT_MISSING',
  MANIFEST: 'CONSENT_MANIFEST_MISMATCH',
  MODEL: 'CONSENT_MODEL_MISMATCH',
  PRIVACY: 'CONSENT_PRIVACY_MISMATCH',
  USE: 'CONSENT_USE_NOT_ALLOWED',
  EXPIRED: 'CONSENT_EXPIRED',
  REVOKED: 'CONSENT_REVOKED',
  TOO_FEW: 'CONSENT_TOO_FEW_INSTITUTIONS',
  EPSILON: 'CONSENT_EPSILON_EXCEEDED',
} as const satisfies Record<string, ErrorCode>;
export type ConsentRefusalCode = (typeof ConsentRefusal)[keyof typeof ConsentRefusal];
