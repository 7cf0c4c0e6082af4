/** Runs a stats query over the online sites: describe (kinds and ranges), agree bins and grid, count, verify, pool, audit. */
import { randomUUID } from 'node:crypto';
import type { CountAsk, StatsAnswerBody, StatsResult } from '../../protocol/index.js';
import { niceEdges } from './edges.js';
import { poolCategorical, poolCrosstab, poolNumeric } from './pool.js';
import { poolSurvival, survivalNotes } from './pool-survival.js';
import type { StatsRequest } from './request.js';
import { secureCount, secureOnly } from './secure-count.js';
import { askAll, type Answers, type StatsDeps } from './ask.js';

export type { StatsDeps } from './ask.js';

const DEFAULT_QUANTILES = [0.25, 0.5, 0.75];

/**
 * Secure aggregation: per column, the sorted union of the names the sites listed in the describe phase (each site
 * lists the values it holds in at least k rows, the names a plain answer would publish).
 * @example agreedVocabulary(described, ['smoking']) // { smoking: ['current', 'former', 'never'] }
 */
export function agreedVocabulary(described: Answers, columns: readonly string[]): Record<string, string[]> {
  const vocabulary: Record<string, string[]> = {};
  for (const column of new Set(columns)) {
    const names = new Set<string>();
    for (const body of described.bodies.values())
      for (const name of body.columns?.find((c) => c.name === column)?.categories ?? []) names.add(name);
    vocabulary[column] = [...names].sort();
  }
  return vocabulary;
}

/** The count phase's question from the describe phase's answers and the request; columns that cannot be binned get a note. */
function countAsk(req: StatsRequest, described: Answers, notes: string[]): { ask: CountAsk; edges: Map<string, number[]> } {
  const kinds = new Map<string, { numeric: boolean; categorical: boolean; lo: number; hi: number }>();
  for (const body of described.bodies.values()) {
    for (const c of body.columns ?? []) {
      const k = kinds.get(c.name) ?? { numeric: false, categorical: false, lo: Infinity, hi: -Infinity };
      if (c.kind === 'numeric') k.numeric = true;
      if (c.kind === 'categorical') k.categorical = true;
      if (c.range) [k.lo, k.hi] = [Math.min(k.lo, c.range[0]), Math.max(k.hi, c.range[1])];
      kinds.set(c.name, k);
    }
  }
  const edges = new Map<string, number[]>();
  const numeric: CountAsk['numeric'] = [];
  const categorical: string[] = [];
  const wanted = req.columns ?? [...kinds.keys()].filter((c) => kinds.get(c)?.numeric || kinds.get(c)?.categorical);
  for (const column of wanted) {
    const k = kinds.get(column);
    if (!k || (!k.numeric && !k.categorical)) notes.push(`${column}: no site holds this column`);
    else if (k.categorical) categorical.push(column);
    else if (req.edges?.[column]) edges.set(column, req.edges[column]);
    else if (k.lo <= k.hi) edges.set(column, niceEdges(k.lo, k.hi, req.bins ?? 10));
    else notes.push(`${column}: no site has k values to agree a range on; ask with edges`);
  }
  for (const [column, e] of edges) numeric.push({ column, edges: e });
  if (req.label && !categorical.includes(req.label)) categorical.push(req.label);
  const crosstabs = [
    ...(req.crosstabs ?? []),
    ...(req.label ? categorical.filter((c) => c !== req.label).map((c) => ({ rows: c, cols: req.label as string })) : []),
  ];
  const ask: CountAsk = { phase: 'count', numeric, categorical, crosstabs };
  if (req.secure) {
    const named = [...categorical, ...crosstabs.flatMap((x) => [x.rows, x.cols]), ...(req.survival?.group ? [req.survival.group] : [])];
    ask.vocabulary = agreedVocabulary(described, named);
  }
  if (req.survival) {
    const t = kinds.get(req.survival.time);
    const grid =
      req.survival.grid ?? (t && t.lo <= t.hi ? niceEdges(Math.min(0, t.lo), t.hi, req.survival.steps ?? 20).slice(1) : undefined);
    if (grid)
      ask.survival = {
        time: req.survival.time,
        event: req.survival.event,
        ...(req.survival.group ? { group: req.survival.group } : {}),
        grid,
      };
    else notes.push(`${req.survival.time}: no time range to build the survival grid on; ask with a grid`);
  }
  return { ask, edges };
}

/**
 * Runs one stats request: phase 1 asks each eligible site for its columns' kinds and ranges (k-th extremes, rounded
 * outward), the coordinator agrees bins over the pooled range (or takes asked edges) and the survival grid, phase 2 asks
 * for the counts, and the signed answers are pooled into stats.json. Audited: the request, each answer or refusal, the result.
 * @example const result = await runStats(deps, { label: 'readmitted_30d' }, 'token:tok_1')
 */
export async function runStats(deps: StatsDeps, req: StatsRequest, actor: string): Promise<StatsResult & { notes: string[] }> {
  const timeoutMs = req.timeoutMs ?? 15_000;
  const { ask: sites, skip } = deps.eligible();
  const id = randomUUID();
  deps.audit('stats.query', { queryId: id, actor, request: req, asked: sites, skipped: skip });
  const base = { id, federation: deps.federation, ...(req.minCellSize ? { minCellSize: req.minCellSize } : {}) };
  const extra = [
    ...(req.label ? [req.label] : []),
    ...(req.survival ? [req.survival.time, req.survival.event, ...(req.survival.group ? [req.survival.group] : [])] : []),
    ...(req.crosstabs ?? []).flatMap((x) => [x.rows, x.cols]),
  ];
  const columns = req.columns ? [...new Set([...req.columns, ...extra])] : [];
  const secure = req.secure ? { secure: { attempt: 0 } } : {};
  const listed = [
    ...(req.label ? [req.label] : []),
    ...(req.survival?.group ? [req.survival.group] : []),
    ...(req.crosstabs ?? []).flatMap((x) => [x.rows, x.cols]),
  ];
  const names = req.secure ? { names: [...new Set(listed)] } : {};
  const described = await askAll(deps, sites, { ...base, ...secure, ask: { phase: 'describe', columns, ...names } }, timeoutMs);
  const notes: string[] = [];
  const agreed = countAsk(req, described, notes);
  const { edges } = agreed;
  const ask = req.secure ? secureOnly(agreed.ask, notes) : agreed.ask;
  const counting = { ...base, ...(req.epsilon ? { epsilon: req.epsilon } : {}) };
  const masked = req.secure ? await secureCount(deps, described, counting, ask, timeoutMs) : undefined;
  const counted = masked
    ? { bodies: masked.dp, refused: masked.refused }
    : await askAll(deps, [...described.bodies.keys()], { ...counting, ask }, timeoutMs);
  // Under secure aggregation the only answer to pool is the pooled one (suppressed at the coordinator).
  const pooling: Map<string, Partial<StatsAnswerBody>> = masked
    ? new Map(masked.pooled ? [['(pooled)', masked.pooled]] : [])
    : counted.bodies;
  const parts = <T>(pick: (b: Partial<StatsAnswerBody>) => T | undefined) =>
    [...pooling].flatMap(([site, b]) => {
      const answer = pick(b);
      return answer === undefined ? [] : [{ site, answer }];
    });
  const result: StatsResult & { notes: string[] } = {
    format: 'cohort-stats/v1',
    federation: deps.federation,
    queryId: id,
    minCellSize: Object.fromEntries([...counted.bodies].map(([s, b]) => [s, b.minCellSize])),
    sites: {},
    refused: { ...skip, ...described.refused, ...counted.refused },
    columns: {},
    crosstabs: ask.crosstabs.map((x) => poolCrosstab(parts((b) => b.crosstabs?.find((c) => c.rows === x.rows && c.cols === x.cols)))),
    notes,
  };
  const noisy = [...counted.bodies].filter(([, b]) => b.dp);
  if (noisy.length > 0) result.dp = Object.fromEntries(noisy.map(([s, b]) => [s, b.dp as NonNullable<StatsAnswerBody['dp']>]));
  if (masked)
    result.secure = { sites: masked.sites, attempts: masked.attempts, minCellSize: masked.minCellSize, rows: masked.pooled?.rows.n ?? 0 };
  for (const [site, b] of counted.bodies) {
    const label = req.label ? b.categorical?.find((c) => c.column === req.label) : undefined;
    const balance = label
      ? {
          column: label.column,
          counts: Object.fromEntries([
            ...label.categories.map((c) => [c.name, c.count.suppressed ? null : c.count.n]),
            ['(other)', label.other.suppressed ? null : label.other.n],
          ]),
        }
      : undefined;
    result.sites[site] = { rows: b.rows.n, ...(b.rows.suppressed ? { suppressed: true as const } : {}), ...(balance ? { balance } : {}) };
  }
  const quantiles = [...new Set([...DEFAULT_QUANTILES, ...(req.quantiles ?? [])])].sort((a, b) => a - b);
  for (const { column } of ask.numeric)
    result.columns[column] = poolNumeric(
      parts((b) => b.numeric?.find((n) => n.column === column)),
      edges.get(column) as number[],
      quantiles,
      masked !== undefined || noisy.length > 0,
    );
  for (const column of ask.categorical)
    result.columns[column] = poolCategorical(parts((b) => b.categorical?.find((c) => c.column === column)));
  if (ask.survival) {
    result.survival = poolSurvival(
      parts((b) => b.survival),
      ask.survival,
    );
    notes.push(...survivalNotes(parts((b) => b.survival)));
  }
  deps.audit('stats.result', {
    queryId: id,
    actor,
    answered: [...counted.bodies.keys()],
    refused: result.refused,
    columns: Object.keys(result.columns),
    survival: ask.survival !== undefined,
    ...(result.dp ? { dp: result.dp } : {}),
    ...(result.secure ? { secure: result.secure } : {}),
  });
  return result;
}
