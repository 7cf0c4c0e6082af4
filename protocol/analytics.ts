/** Federated analytics on the wire: the coordinator's query, each site's signed answer (cells a site may suppress), and stats.json. */
import { z } from 'zod';

/** Cell values read as missing (compared after trimming; case-insensitive): empty, NA, N/A, ?, NaN. */
export const MISSING_TOKENS = ['', 'na', 'n/a', '?', 'nan'] as const;

/**
 * True for a cell that holds no value.
 * @example isMissingToken(' N/A ') // true
 */
export function isMissingToken(cell: string | undefined): boolean {
  return cell === undefined || (MISSING_TOKENS as readonly string[]).includes(cell.trim().toLowerCase());
}

/** The minimum cell size a site applies when its consent allows analytics but names none. */
export const DEFAULT_MIN_CELL_SIZE = 5;
/** The label the agent gives to a crosstab's rows with no value, and to categories too rare to be named. */
export const MISSING_CATEGORY = '(missing)';
export const OTHER_CATEGORY = '(other)';

const column = z.string().min(1).max(200);
const finite = z.number().finite();
const increasing = (min: number, max: number) =>
  z
    .array(finite)
    .min(min)
    .max(max)
    .refine((xs) => xs.every((x, i) => i === 0 || x > (xs[i - 1] as number)), 'must be strictly increasing');

/** A count as a site reports it: `n` is 0 and `suppressed` true when the true count was withheld (1..k-1, or to protect one). */
export const CountCellSchema = z.object({ n: z.number().int().min(0), suppressed: z.literal(true).optional() }).strict();
export type CountCell = z.infer<typeof CountCellSchema>;

/** Phase 1: which columns a site holds, their kind, and (numeric) a range rounded outward from its k-th extremes. */
const DescribeQuery = z
  .object({
    phase: z.literal('describe'),
    columns: z.array(column).max(1000),
    /** Under secure aggregation: columns (besides the categorical ones) whose category names each site lists (crosstab and label columns, a survival group). */
    names: z.array(column).max(1000).optional(),
  })
  .strict();

/** Phase 2: counts over agreed bins, categories, crosstabs and survival steps. */
const CountQuery = z
  .object({
    phase: z.literal('count'),
    /** Histogram over `edges`: cells [below edges[0]], [e0,e1), ..., [e_{m-1}, e_m], [above e_m]. */
    numeric: z.array(z.object({ column, edges: increasing(2, 1001) }).strict()).max(1000),
    categorical: z.array(column).max(1000),
    crosstabs: z.array(z.object({ rows: column, cols: column }).strict()).max(100),
    /** Kaplan-Meier counts on `grid` (step j covers (grid[j-1], grid[j]]); `group` splits them by a categorical column. */
    survival: z
      .object({ time: column, event: column, group: column.optional(), grid: increasing(1, 1000) })
      .strict()
      .optional(),
    /** Secure aggregation: the category names agreed per column (sorted), so every site's vector has one layout. */
    vocabulary: z.record(column, z.array(z.string().max(200)).max(1000)).optional(),
  })
  .strict();

/**
 * Secure aggregation of counts: in the describe phase `{ attempt }` asks each site for a fresh X25519 key for this query;
 * in the count phase `peers` carries every asked site's key (base64), and each site answers one masked vector.
 */
const SecureAsk = z
  .object({
    attempt: z.number().int().min(0).max(1000),
    peers: z.record(z.string().min(1).max(128), z.string().min(40).max(60)).optional(),
    /** Per peer: its enrolled Ed25519 key (base64) and its signature over `maskKeyStatement`, so a site can check each key it masks against. */
    signed: z
      .record(
        z.string().min(1).max(128),
        z.object({ signPublicKey: z.string().min(40).max(64), signature: z.string().min(80).max(100) }).strict(),
      )
      .optional(),
  })
  .strict();

/** Before training: each site compares its columns with the data dictionary of the study it consented to (no parameters: a coordinator cannot send ranges that act as row filters). */
const CheckQuery = z.object({ phase: z.literal('check') }).strict();

/** What the coordinator asks (event `stats:query`); the agent answers in the acknowledgement. */
export const StatsQuerySchema = z
  .object({
    id: z.string().min(8).max(64),
    federation: z.string().min(1).max(128),
    /** The minimum cell size the asker would like; a site never applies less than its consent's. */
    minCellSize: z.number().int().min(1).max(1_000_000).optional(),
    /** DP noise on the count phase at this epsilon; a site applies the smaller of this and its consent's analyticsEpsilon. */
    epsilon: z.number().positive().finite().optional(),
    secure: SecureAsk.optional(),
    ask: z.discriminatedUnion('phase', [DescribeQuery, CountQuery, CheckQuery]),
  })
  .strict();
export type StatsQuery = z.infer<typeof StatsQuerySchema>;
export type CountAsk = Extract<StatsQuery['ask'], { phase: 'count' }>;

const NumericAnswer = z
  .object({
    column,
    present: CountCellSchema,
    missing: CountCellSchema,
    mean: finite.optional(),
    m2: z.number().min(0).optional(),
    histogram: z.array(CountCellSchema),
  })
  .strict();
const CategoricalAnswer = z
  .object({
    column,
    missing: CountCellSchema,
    categories: z.array(z.object({ name: z.string().max(200), count: CountCellSchema }).strict()),
    other: CountCellSchema,
  })
  .strict();
const CrosstabAnswer = z
  .object({
    rows: column,
    cols: column,
    rowNames: z.array(z.string()),
    colNames: z.array(z.string()),
    cells: z.array(z.array(CountCellSchema)),
  })
  .strict();
const SurvivalAnswer = z
  .object({
    groups: z.array(z.object({ group: z.string().max(200), atRisk: z.array(CountCellSchema), events: z.array(CountCellSchema) }).strict()),
    excluded: CountCellSchema,
  })
  .strict();
const ColumnKind = z
  .object({
    name: column,
    kind: z.enum(['numeric', 'categorical', 'absent']),
    range: z.tuple([finite, finite]).optional(),
    /** Under secure aggregation: the values held by at least k rows at the site (the names a plain answer would publish). */
    categories: z.array(z.string().max(200)).max(1000).optional(),
  })
  .strict();

/** One column of a site against the dictionary: whether it is there, and how many cells break each rule (suppressed at k). */
const CheckColumn = z
  .object({
    name: column,
    status: z.enum(['ok', 'differs', 'absent']),
    /** Present cells that fit, and those that do not: not a number, below min, above max, a category not listed; and missing. */
    cells: z.record(z.enum(['fits', 'notNumber', 'belowMin', 'aboveMax', 'unlisted', 'missing']), CountCellSchema),
    /** Missing cells where the dictionary allows none. */
    missingNotAllowed: z.boolean(),
    /** Unlisted category values held by at least k rows (rarer ones are never named). */
    unlistedValues: z.array(z.string().max(200)).max(100),
  })
  .strict();
export const StatsCheckSchema = z.object({ columns: z.array(CheckColumn), extra: z.array(column) }).strict();
export type StatsCheck = z.infer<typeof StatsCheckSchema>;
export type StatsCheckColumn = z.infer<typeof CheckColumn>;

/** The noise a site added to its counts, and what it charged to its privacy ledger. */
export const StatsDpSchema = z
  .object({
    epsilon: z.number().positive(),
    delta: z.number().gt(0).lt(1),
    noiseMultiplier: z.number().positive(),
    sensitivity: z.number().positive(),
    sigma: z.number().positive(),
  })
  .strict();
export type StatsDp = z.infer<typeof StatsDpSchema>;

/** What a site signs: its answer to one query, with the minimum cell size it applied. */
export const StatsAnswerBodySchema = z
  .object({
    format: z.literal('cohort-stats-answer/v1'),
    queryId: z.string(),
    federation: z.string(),
    institution: z.string(),
    minCellSize: z.number().int().min(1),
    rows: CountCellSchema,
    columns: z.array(ColumnKind).optional(),
    numeric: z.array(NumericAnswer).optional(),
    categorical: z.array(CategoricalAnswer).optional(),
    crosstabs: z.array(CrosstabAnswer).optional(),
    survival: SurvivalAnswer.optional(),
    /** Check phase: the site's columns against the study's dictionary. */
    check: StatsCheckSchema.optional(),
    /** Describe phase under secure aggregation: this site's fresh X25519 public key for the query (base64). */
    maskKey: z.string().min(40).max(60).optional(),
    /** The site's Ed25519 signature over `maskKeyStatement` of its mask key: what the other sites verify the key by. */
    maskKeySignature: z.string().min(80).max(100).optional(),
    /** Count phase under DP: the Gaussian mechanism the site applied (sigma = noiseMultiplier * sensitivity). */
    dp: StatsDpSchema.optional(),
    /** Count phase under secure aggregation: the site's counts plus its pairwise masks, u32 little-endian, base64. */
    masked: z.string().max(8_000_000).optional(),
  })
  .strict();
export type StatsAnswerBody = z.infer<typeof StatsAnswerBodySchema>;
export type NumericAnswer = z.infer<typeof NumericAnswer>;
export type CategoricalAnswer = z.infer<typeof CategoricalAnswer>;
export type CrosstabAnswer = z.infer<typeof CrosstabAnswer>;
export type SurvivalAnswer = z.infer<typeof SurvivalAnswer>;

/** The acknowledgement of `stats:query`: the signed answer (Ed25519 over the body's canonical JSON), or a refusal. */
export const StatsReplySchema = z.union([
  z.object({ ok: z.literal(true), body: StatsAnswerBodySchema, signature: z.string().min(80).max(100) }).strict(),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string().max(64), message: z.string().max(2000) }).strict() }).strict(),
]);
export type StatsReply = z.infer<typeof StatsReplySchema>;

/** A pooled figure that lacks a site's suppressed part: which sites. */
export interface Incomplete {
  incomplete?: true;
  incompleteSites?: string[];
}

/** `cohort stats --check`: per site, its columns against the study's data dictionary. */
export interface StatsCheckResult {
  format: 'cohort-stats-check/v1';
  federation: string;
  queryId: string;
  sites: Record<string, { rows: number; suppressed?: true; minCellSize: number } & StatsCheck>;
  refused: Record<string, { code: string; message: string }>;
}

/** stats.json: per column, crosstab and survival curve, pooled over the sites that answered. */
export interface StatsResult {
  format: 'cohort-stats/v1';
  federation: string;
  queryId: string;
  /** The minimum cell size each site applied (its consent's, or the asker's when larger). */
  minCellSize: Record<string, number>;
  sites: Record<string, { rows: number; suppressed?: true; balance?: { column: string; counts: Record<string, number | null> } }>;
  refused: Record<string, { code: string; message: string }>;
  columns: Record<string, NumericResult | CategoricalResult>;
  crosstabs: CrosstabResult[];
  survival?: SurvivalResult;
  /** Columns that could not be asked, and why. */
  notes?: string[];
  /** Sites that added DP noise to their counts: the mechanism each applied. */
  dp?: Record<string, StatsDp>;
  /** Secure aggregation: the coordinator saw only the pooled counts (per-site figures are absent), suppressed at `minCellSize`. */
  secure?: { sites: string[]; attempts: number; minCellSize: number; rows: number };
  /** Simulations: the partition value each simulated site holds. */
  siteNames?: Record<string, string>;
}

export interface NumericResult extends Incomplete {
  kind: 'numeric';
  count: number;
  missing: number;
  /** Over the sites whose mean was not withheld (`incomplete` names the others); under DP or secure aggregation, from the histogram (`meanFrom`). */
  mean: number | null;
  meanFrom?: 'histogram';
  std: number | null;
  /** Rounded outward to the histogram's edges (the lower edge of the first non-empty bin, the upper edge of the last); null when values lie beyond the edges. */
  min: number | null;
  max: number | null;
  histogram: { edges: number[]; counts: number[]; below: number; above: number };
  /** From the pooled histogram by linear interpolation within a bin; the true quantile lies within `errorBound` (the bin's width). */
  quantiles: { p: number; value: number | null; errorBound: number | null }[];
}

export interface CategoricalResult extends Incomplete {
  kind: 'categorical';
  count: number;
  missing: number;
  counts: Record<string, number>;
}

export interface CrosstabResult extends Incomplete {
  rows: string;
  cols: string;
  rowNames: string[];
  colNames: string[];
  cells: number[][];
}

export interface SurvivalCurve extends Incomplete {
  group: string;
  times: number[];
  atRisk: number[];
  events: number[];
  survival: number[];
  lower: number[];
  upper: number[];
}

export interface SurvivalResult {
  time: string;
  event: string;
  group?: string;
  /** Greenwood's variance on the log(-log S) scale (bands stay in [0, 1]), 95%. */
  band: 'log-log 95%';
  curves: SurvivalCurve[];
  logRank?: { chiSquare: number; df: number; pValue: number };
}
