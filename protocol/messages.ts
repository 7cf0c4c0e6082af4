/** Runtime schemas for every message on the wire; the TypeScript types are inferred from them. */
import { z } from 'zod';
import { ModelSpecSchema } from './model-spec.js';
import { PrivacySettingsSchema, SignedConsentSchema, SignedRevocationSchema, StudyManifestSchema, TrainingTermsShape } from './study.js';
import type { ErrorCode, WireError } from './errors.js';
import { SecAggTermsSchema } from './secagg-wire.js';

const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');
const b64 = z
  .string()
  .max(4096)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256');
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');
const round = z.number().int().min(1).max(1_000_000);
const finite = z.number().finite();

export const InstitutionIdSchema = id;
export const FederationIdSchema = id;

/** What an agent sends in socket.io's `auth` at connect. */
export const ConnectAuthSchema = z.object({
  protocolVersion: z.number().int(),
  federation: id,
  institution: id,
  /** 32 random bytes the coordinator must sign: proves the server holds the coordinator key. */
  nonce: b64,
});
export type ConnectAuth = z.infer<typeof ConnectAuthSchema>;

/** Coordinator -> agent right after connect: prove you hold your institution's key. */
export const ChallengeSchema = z.object({
  protocolVersion: z.number().int(),
  federation: id,
  coordinatorSignPublicKey: b64,
  challenge: b64,
  /** The coordinator's signature over the agent's nonce and this challenge (crypto/challenge serverChallengeMessage). */
  coordinatorSignature: b64,
});
export type Challenge = z.infer<typeof ChallengeSchema>;

/** Agent -> coordinator: Ed25519 signature over the challenge bytes (see crypto/challenge). */
export const AuthResponseSchema = z.object({ signature: b64 });
export type AuthResponse = z.infer<typeof AuthResponseSchema>;

/** Per-feature running statistics, for federated z-score normalisation of tabular data. */
export const FeatureStatsSchema = z.object({
  count: z.number().int().nonnegative(),
  mean: z.array(finite).max(100_000),
  m2: z.array(finite.nonnegative()).max(100_000),
  /** Per feature, how many values the mean and m2 are over (missing cells left out); absent: `count` for every feature. */
  counts: z.array(z.number().int().nonnegative()).max(100_000).optional(),
});
export type FeatureStats = z.infer<typeof FeatureStatsSchema>;

/** Coordinator -> agent once authenticated: what the federation trains. */
export const WelcomeSchema = z.object({
  institution: id,
  federation: id,
  spec: ModelSpecSchema,
  maxUploadBytes: z.number().int().positive(),
  chunkBytes: z.number().int().positive(),
  /** The study this federation runs, which the institution's consent must cover. */
  study: StudyManifestSchema,
  policyHash: hex64,
});
export type Welcome = z.infer<typeof WelcomeSchema>;

/** Agent -> coordinator: ready to take tasks. Aggregate statistics only, never samples. */
export const ReadySchema = z.object({
  samples: z.number().int().nonnegative().max(1e12),
  backend: z.string().max(64),
  featureStats: FeatureStatsSchema.optional(),
  /** Image data with pooled channel normalisation: per channel, the pixel count, mean and M2 of the site's images. */
  channelStats: FeatureStatsSchema.optional(),
  /** The institution's signed consent, and its signed revocation if it withdrew it. */
  consent: SignedConsentSchema.optional(),
  revocation: SignedRevocationSchema.optional(),
});
export type Ready = z.infer<typeof ReadySchema>;

export const TrainConfigSchema = z.object({
  localEpochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(1_000_000),
  learningRate: z.number().positive().max(100),
  /** FedProx (Li et al. 2020): adds (mu/2)·||w − w_global||² to the local loss; absent or 0: plain SGD. */
  proximalMu: z.number().min(0).max(1000).optional(),
  /** Differential privacy: the site clips its update (its distance from the global model) to this L2 norm. */
  dpClipNorm: z.number().positive().max(1e6).optional(),
  /** Adaptive clipping: report whether the update was within dpClipNorm (the bit, never the norm). */
  dpReportClip: z.boolean().optional(),
  ...TrainingTermsShape,
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** A published global model as it travels: weights in the tensor codec, signed by the coordinator. */
export const SignedModelSchema = z.object({
  federation: id,
  version: z.number().int().nonnegative(),
  spec: ModelSpecSchema,
  weights: bytes,
  digest: hex64,
  signature: b64,
});
export type SignedModel = z.infer<typeof SignedModelSchema>;

/** Coordinator -> selected agent: train this model for this round. */
/** What every task states, so the agent can check it against its own consent. */
const TaskTermsSchema = z.object({
  federation: id,
  round,
  deadline: z.number().int().positive(),
  study: StudyManifestSchema,
  /** Institutions taking part in the round (the consent's minimum number of others). */
  participants: z.number().int().positive(),
  privacy: PrivacySettingsSchema,
  policyHash: hex64,
  model: SignedModelSchema,
});

/** Coordinator -> selected agent: train this model for this round. */
export const RoundTaskSchema = TaskTermsSchema.extend({
  use: z.literal('training'),
  config: TrainConfigSchema,
  /** Present when the round runs secure aggregation: the coordinator then learns only the sum of the updates. */
  secagg: SecAggTermsSchema.optional(),
});
export type RoundTask = z.infer<typeof RoundTaskSchema>;

export const UploadBeginSchema = z.object({
  round,
  uploadId: z
    .string()
    .min(8)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/),
  totalBytes: z.number().int().positive(),
  chunkBytes: z.number().int().positive(),
  /** Hex of the upload's last 64 bytes: the envelope's Ed25519 signature, which commits to every byte before it (protocol 2; protocol 1 sent a SHA-256 of the whole upload). */
  tail: z.string().regex(/^[0-9a-f]{128}$/, "the upload's last 64 bytes as 128 lowercase hex characters"),
});
export type UploadBegin = z.infer<typeof UploadBeginSchema>;

export const UploadChunkSchema = z.object({
  uploadId: z.string().min(8).max(64),
  index: z.number().int().nonnegative(),
  data: bytes,
});
export type UploadChunk = z.infer<typeof UploadChunkSchema>;

export const UploadCommitSchema = z.object({ uploadId: z.string().min(8).max(64) });
export type UploadCommit = z.infer<typeof UploadCommitSchema>;

/**
 * Agent -> coordinator: it will not take part in this round, and why. An agent sends one of ErrorCode; the schema takes
 * any short code, so that a code this coordinator does not know (an older or newer agent) is still recorded (as
 * UNKNOWN_CODE, with the code sent) instead of refused.
 */
export const DeclineSchema = z.object({
  round,
  code: z.string().min(1).max(64),
  message: z.string().max(1000),
});
/** A decline as the agent sends it: its code is one of ours. */
export type Decline = Omit<z.infer<typeof DeclineSchema>, 'code'> & { code: ErrorCode };
/** A decline as the coordinator receives it: any code (see DeclineSchema). */
export type ReceivedDecline = z.infer<typeof DeclineSchema>;

const unit = finite.min(0).max(1);

/**
 * A task's validation scores beyond loss and accuracy, each present only for the tasks that have it: binary (AUC,
 * sensitivity, specificity at the threshold, Brier score), multilabel (macro F1 and macro AUC over labels),
 * regression (MAE, RMSE, R2 averaged over targets).
 */
export const TaskScoresShape = {
  valAuc: unit.optional(),
  valSensitivity: unit.optional(),
  valSpecificity: unit.optional(),
  valBrier: unit.optional(),
  valMacroF1: unit.optional(),
  valMae: finite.nonnegative().optional(),
  valRmse: finite.nonnegative().optional(),
  valR2: finite.optional(),
};

/**
 * Metrics an agent reports with its update (inside the signed, encrypted payload). Accuracy is the share of correct
 * predictions for classification and binary and the mean per-label accuracy for multilabel; regression reports no
 * accuracy (its loss is the MSE).
 */
export const LocalMetricsSchema = z.object({
  trainLoss: finite,
  trainAccuracy: unit.optional(),
  valLoss: finite.optional(),
  valAccuracy: unit.optional(),
  ...TaskScoresShape,
  valSamples: z.number().int().nonnegative().optional(),
  epochs: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  /** Adaptive DP clipping only: 1 when the update's norm was within the round's clip norm (Andrew et al. 2021). */
  withinClip: z.union([z.literal(0), z.literal(1)]).optional(),
});
export type LocalMetrics = z.infer<typeof LocalMetricsSchema>;

/** The `meta` of an update's tensor payload: bound to the weights by the codec digest and the signature. */
export const UpdateMetaSchema = z.object({
  /** 'weights': the trained model in the clear (to the coordinator); 'masked': a secure-aggregation masked input. */
  kind: z.enum(['weights', 'masked']),
  federation: id,
  round,
  institution: id,
  baseVersion: z.number().int().nonnegative(),
  samples: z.number().int().positive().max(1e12),
  metrics: LocalMetricsSchema,
});
export type UpdateMeta = z.infer<typeof UpdateMetaSchema>;

/** Coordinator -> contributing agent: measure this candidate model on your own validation rows. */
export const EvaluateTaskSchema = TaskTermsSchema.extend({ use: z.literal('evaluation') });
export type EvaluateTask = z.infer<typeof EvaluateTaskSchema>;

/** Agent -> coordinator: the candidate's metrics on the site's validation rows (numbers only). */
export const EvaluationReportSchema = z.object({
  round,
  valLoss: finite,
  /** Absent for regression (the rules then read valLoss, lower is better). */
  valAccuracy: unit.optional(),
  valSamples: z.number().int().positive(),
  ...TaskScoresShape,
});
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

/** Agent -> coordinator: the institution withdrew its consent (signed by the institution). */
export const ConsentRevokeSchema = z.object({ revocation: SignedRevocationSchema });
export type ConsentRevoke = z.infer<typeof ConsentRevokeSchema>;

export const RoundClosedSchema = z.object({
  round,
  state: z.enum(['published', 'withheld', 'failed']),
  version: z.number().int().nonnegative().optional(),
  reason: z.string().optional(),
});
export type RoundClosed = z.infer<typeof RoundClosedSchema>;

export const FederationCompleteSchema = z.object({
  rounds: z.number().int().nonnegative(),
  finalVersion: z.number().int().nonnegative(),
});
export type FederationComplete = z.infer<typeof FederationCompleteSchema>;

/** The federation stopped as failed (consecutive failed rounds, or its privacy budget): no round will follow. */
export const FederationFailedSchema = z.object({
  reason: z.string().min(1).max(2000),
});
export type FederationFailed = z.infer<typeof FederationFailedSchema>;

/** A socket.io acknowledgement: a result or a wire error. */
export type Ack<T = Record<string, never>> = (res: ({ ok: true } & T) | { ok: false; error: WireError }) => void;
