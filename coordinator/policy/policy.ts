/** A federation's policy: the coordinator-side rules, versioned and validated, with a content hash recorded in every round. */
import { z } from 'zod';
import { ArchSchema, contentHash } from '../../protocol/index.js';

export const PolicySchema = z
  .object({
    format: z.literal('cohort-policy/v1'),
    /** Bumped by whoever edits the policy; every change is audited with both hashes. */
    version: z.number().int().min(1),
    /** No single site's update can be isolated from the average: at least this many per round. */
    minInstitutionsPerRound: z.number().int().min(1).default(2),
    minSamplesPerInstitution: z.number().int().min(0).default(1),
    requireSecureAggregation: z.boolean().default(false),
    /** Ceilings on the study's differential-privacy budget; absent: DP not required. */
    dp: z
      .object({ maxEpsilon: z.number().positive(), maxDelta: z.number().gt(0).lt(1) })
      .strict()
      .optional(),
    allowedArchitectures: z.array(ArchSchema).min(1).default(['logreg', 'mlp', 'cnn', 'layers']),
    maxRounds: z.number().int().min(1).default(1000),
    /** The published model's metric at the worst site within `maxGap` of the best (each site measures it on its own validation rows). */
    fairness: z
      .object({ metric: z.literal('valAccuracy'), maxGap: z.number().min(0).max(1) })
      .strict()
      .optional(),
    /**
     * The regression guard: withhold a candidate whose median site-reported metric is more than `maxDrop` below the
     * published model's (the median of what its evaluators reported). The median, not the mean: one lying site cannot
     * move it past the honest reports. On by default (maxDrop 0.1); `false` turns it off.
     */
    regression: z
      .union([
        z.literal(false),
        z.object({ metric: z.literal('valAccuracy').default('valAccuracy'), maxDrop: z.number().min(0).max(1).default(0.1) }).strict(),
      ])
      .default({ metric: 'valAccuracy', maxDrop: 0.1 }),
    /** Where participating data may reside (each institution declares it, signed, in its consent). */
    dataResidency: z
      .object({ allowed: z.array(z.string().min(1)).min(1) })
      .strict()
      .optional(),
  })
  .strict();
export type Policy = z.infer<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;

/**
 * Parses a policy document; throws with every problem listed.
 * @example const policy = parsePolicy(JSON.parse(readFileSync('policy.json', 'utf8')))
 */
export function parsePolicy(value: unknown): Policy {
  const parsed = PolicySchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(`invalid policy: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** SHA-256 (hex) of the policy's canonical JSON, recorded with every round and decision. */
export function policyHash(policy: Policy): string {
  return contentHash(policy);
}

/**
 * The policy a federation gets when none is given: at least 2 institutions per round, at least one
 * sample each, every architecture, at most 1,000 rounds, and a candidate's median site-reported validation accuracy
 * at most 0.1 below the published model's. No fairness rule: whether sites may differ by design (one hospital sees mostly one disease) is the federation's call, made in its policy file.
 */
export function defaultPolicy(overrides: Partial<PolicyInput> = {}): Policy {
  return parsePolicy({ format: 'cohort-policy/v1', version: 1, ...overrides });
}
