/** A federation's configuration, validated: what is trained, how many rounds, who must take part, and the deadlines. */
import { z } from 'zod';
import { FederationIdSchema, ModelSpecSchema, TrainConfigSchema } from '../protocol/index.js';

export const RoundRulesSchema = z.object({
  rounds: z.number().int().min(1).max(100_000),
  minParticipants: z.number().int().min(1).max(100_000),
  /** Fraction C of the online institutions selected each round (at least minParticipants). */
  fraction: z.number().gt(0).max(1).default(1),
  /** How long a training round may run before it closes with whoever has reported. */
  roundTimeoutMs: z.number().int().min(100).max(7 * 24 * 3600_000).default(10 * 60_000),
  /** How long a round waits for enough participants before it fails. */
  waitTimeoutMs: z.number().int().min(100).max(30 * 24 * 3600_000).default(30 * 60_000),
  /** Once minParticipants are online, how long to wait for more (0: start at once). All enrolled online: start at once. */
  joinGraceMs: z.number().int().min(0).max(3600_000).default(2_000),
  /** Consecutive failed rounds after which the federation stops as failed. */
  maxConsecutiveFailures: z.number().int().min(1).max(1000).default(3),
  train: TrainConfigSchema,
  strategy: z.string().default('fedavg'),
  seed: z.number().int().default(0),
});
export type RoundRules = z.infer<typeof RoundRulesSchema>;

export const FederationSetupSchema = z.object({
  id: FederationIdSchema,
  name: z.string().min(1).max(200),
  spec: ModelSpecSchema,
  rules: RoundRulesSchema,
});
export type FederationSetup = z.infer<typeof FederationSetupSchema>;
export type FederationSetupInput = z.input<typeof FederationSetupSchema>;
