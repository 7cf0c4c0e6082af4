/** What an analyst asks (REST body of POST /api/federations/:id/stats, and `cohort stats`). */
import { z } from 'zod';

const column = z.string().min(1).max(200);
const increasing = (min: number, max: number) =>
  z
    .array(z.number().finite())
    .min(min)
    .max(max)
    .refine((xs) => xs.every((x, i) => i === 0 || x > (xs[i - 1] as number)), 'must be strictly increasing');

export const StatsRequestSchema = z
  .object({
    /** Columns to describe; default: every column some site holds. */
    columns: z.array(column).max(1000).optional(),
    /** Histogram bins per numeric column over the pooled range (default 10). */
    bins: z.number().int().min(1).max(200).optional(),
    /** Edges for a numeric column (strictly increasing), instead of the pooled range's. */
    edges: z.record(z.string(), increasing(2, 1001)).optional(),
    /** Quantiles besides 0.25, 0.5 and 0.75. */
    quantiles: z.array(z.number().gt(0).lt(1)).max(99).optional(),
    crosstabs: z
      .array(z.object({ rows: column, cols: column }).strict())
      .max(100)
      .optional(),
    /** The label column: per-site class balance, and a crosstab of every categorical column against it. */
    label: column.optional(),
    survival: z
      .object({
        time: column,
        event: column,
        group: column.optional(),
        grid: increasing(1, 1000).optional(),
        steps: z.number().int().min(1).max(1000).optional(),
      })
      .strict()
      .optional(),
    /** A minimum cell size to ask for; each site applies the larger of this and its consent's. */
    minCellSize: z.number().int().min(1).max(1_000_000).optional(),
    /** Instead of statistics: each site's columns against the study's data dictionary (`cohort stats --check`). */
    check: z.boolean().optional(),
    /** DP noise on the counts at this epsilon per site; each site applies the smaller of this and its consent's analyticsEpsilon. */
    epsilon: z.number().positive().finite().optional(),
    /** Secure aggregation of the counts: the coordinator sees only pooled histograms and survival counts. */
    secure: z.boolean().optional(),
    /** How long to wait for each phase's answers (default 15 s). */
    timeoutMs: z.number().int().min(100).max(120_000).optional(),
  })
  .strict();
export type StatsRequest = z.infer<typeof StatsRequestSchema>;
