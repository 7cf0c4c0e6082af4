/** A federation's configuration, validated: what is trained, how many rounds, who must take part, and the deadlines. */
import { z } from 'zod';
import { FederationIdSchema, ModelSpecSchema, PrivacySettingsSchema, TrainConfigSchema } from '../protocol/index.js';
import { PolicySchema } from './policy/policy.js';

export const RoundRulesSchema = z.object({
  rounds: z.number().int().min(1).max(100_000),
  minParticipants: z.number().int().min(1).max(100_000),
  /** Fraction C of the online institutions selected each round (at least minParticipants). */
  fraction: z.number().gt(0).max(1).default(1),
  /** How long a training round may run before it closes with whoever has reported. */
  roundTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(7 * 24 * 3600_000)
    .default(10 * 60_000),
  /** How long a round waits for enough participants before it fails. */
  waitTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(30 * 24 * 3600_000)
    .default(30 * 60_000),
  /** Once minParticipants are online, how long to wait for more (0: start at once). All enrolled online: start at once. */
  joinGraceMs: z.number().int().min(0).max(3600_000).default(2_000),
  /** Consecutive failed rounds after which the federation stops as failed. */
  maxConsecutiveFailures: z.number().int().min(1).max(1000).default(3),
  train: TrainConfigSchema,
  strategy: z.string().default('fedavg'),
  /** The strategy's parameters (e.g. { lr: 0.01 } for fedadam, { f: 1 } for krum). */
  strategyParams: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
  seed: z.number().int().default(0),
  /**
   * Client-level differential privacy (DP-FedAvg, McMahan et al. 2018): each site clips its update to
   * L2 norm `clipNorm`, the coordinator averages them with equal weights and adds Gaussian noise of
   * standard deviation noiseMultiplier * clipNorm to their sum; an RDP accountant tracks (epsilon, delta).
   */
  dp: z
    .object({
      noiseMultiplier: z.number().positive().max(1000),
      clipNorm: z.number().positive().max(1e6),
      delta: z.number().gt(0).lt(1).default(1e-5),
    })
    .strict()
    .optional(),
  /**
   * Bound on each plain update's L2 distance from the global model it was trained from; an update above it is refused
   * (UPDATE_NORM_EXCEEDED). Absent: `updateNormFactor` (default 10) times the median norm of the last round with at
   * least 3 accepted updates, and sqrt(parameters) before any such round. Under DP the clip norm applies when stricter.
   */
  maxUpdateNorm: z.number().positive().max(1e12).optional(),
  updateNormFactor: z.number().min(1).max(1e6).optional(),
  /**
   * Secure aggregation (Bonawitz et al. 2017; SecAgg+ of Bell et al. 2020 with graph 'harary'): the coordinator learns
   * only the weighted sum of the updates. `threatModel`: 'malicious' (default) sets the threshold to at least
   * floor(2h/3) + 1 of each participant's h share holders, resisting an active coordinator colluding with fewer than a
   * third of them; 'semi-honest' allows the smallest majority floor(h/2) + 1 (more dropouts tolerated, trusts the
   * coordinator to follow the protocol). `threshold`: shares needed to unmask, as a fraction of the participants
   * (rounded up, and at least the threat model's minimum); the round survives up to n - t dropouts after masking. `clipNorm`: the
   * quantisation bound on each update's distance from the global model (under DP the DP clip norm is used instead).
   */
  secagg: z
    .object({
      graph: z.enum(['complete', 'harary']).default('complete'),
      threatModel: z.enum(['malicious', 'semi-honest']).optional(),
      threshold: z.number().gt(0.5).max(1).optional(),
      clipNorm: z.number().positive().max(1e6).default(100),
      /** How long each key-exchange step and the unmasking step wait for answers before closing with whoever answered. */
      stepTimeoutMs: z.number().int().min(100).max(3600_000).default(30_000),
    })
    .strict()
    .optional(),
  /**
   * Adaptive clipping under DP (Andrew et al. 2021): the clip norm follows the `targetQuantile` of update norms; the
   * sites' clipped/unclipped bits are summed with Gaussian noise of std `countNoiseStd` (default participants / 20).
   */
  adaptiveClip: z
    .object({
      targetQuantile: z.number().min(0).max(1).default(0.5),
      learningRate: z.number().positive().max(10).default(0.2),
      countNoiseStd: z.number().positive().optional(),
    })
    .strict()
    .optional(),
  /** How long contributing sites have to report their validation metrics of a candidate model. */
  evaluationTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(24 * 3600_000)
    .default(60_000),
});
export type RoundRules = z.infer<typeof RoundRulesSchema>;

/** What the study is for: the parts of the manifest that are not derived from the federation's configuration. */
export const StudySetupSchema = z.object({
  title: z.string().min(1).max(300),
  purpose: z.string().min(1).max(4000),
  dataCategories: z.array(z.string().min(1).max(100)).min(1).max(100),
  privacy: PrivacySettingsSchema.default({ secureAggregation: false }),
});
export type StudySetup = z.infer<typeof StudySetupSchema>;

export const FederationSetupSchema = z.object({
  id: FederationIdSchema,
  name: z.string().min(1).max(200),
  spec: ModelSpecSchema,
  rules: RoundRulesSchema,
  study: StudySetupSchema,
  /** The coordinator-side rules; the default policy when absent. */
  policy: PolicySchema.optional(),
});
export type FederationSetup = z.infer<typeof FederationSetupSchema>;
export type FederationSetupInput = z.input<typeof FederationSetupSchema>;
