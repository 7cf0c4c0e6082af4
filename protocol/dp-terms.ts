/** A study's differential-privacy terms: the mechanism a site consents to, precise enough for it to recompute its noise and its budget. */
import { z } from 'zod';
import type { ErrorCode } from './errors.js';

/**
 * How a round's participants are chosen, as the accountant sees it. 'coordinator': the coordinator selects them (seeded,
 * at least minParticipants), so no amplification by subsampling is claimed and every round is accounted with q = 1
 * (docs/privacy-dp.md says why).
 */
export const DP_SAMPLING = ['coordinator'] as const;

export const DpTermsSchema = z.object({
  /** The planned budget: what `rounds` steps of the mechanism below spend (RDP accountant), at `delta`. */
  epsilon: z.number().positive(),
  delta: z.number().gt(0).lt(1),
  /** Noise multiplier z: the Gaussian noise on the sum of clipped updates has std z * clipNorm. */
  noiseMultiplier: z.number().positive().max(1000),
  /** Clip norm C: each site's update (its L2 distance from the global model) is clipped to C; adaptive clipping starts here. */
  clipNorm: z.number().positive().max(1e6),
  sampling: z.enum(DP_SAMPLING),
  /** The sampling rate q the accountant and every site's ledger use; with coordinator selection it is 1. */
  samplingRate: z.literal(1),
});
export type DpTerms = z.infer<typeof DpTermsSchema>;

/** Reason codes an agent sends when a task's DP terms are not the study's, or its own budget is spent. */
export const DpRefusal = {
  /** The task's clip norm or distributed-noise std is not what the signed study terms give. */
  TERMS: 'DP_TERMS_MISMATCH',
  /** The manifest states an epsilon below what its own terms spend over its rounds. */
  BUDGET_CLAIM: 'DP_BUDGET_UNDERSTATED',
} as const satisfies Record<string, ErrorCode>;
