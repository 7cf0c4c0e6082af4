/** Runs a stats query over the online sites: describe (kinds and ranges), agree bins and grid, count, verify, pool, audit. */
import { randomUUID } from 'node:crypto';
import { StatsReplySchema, type CountAsk, type StatsAnswerBody, type StatsQuery, type StatsResult } from '../../protocol/index.js';
import { verifyDocument } from '../../crypto/index.js';
import { niceEdges } from './edges.js';
import { poolCategorical, poolCrosstab, poolNumeric } from './pool.js';
import { poolSurvival } from './pool-survival.js';
import type { StatsRequest } from './request.js';

export interface StatsDeps {
  federation: string;
  /** Sites to ask (online, consent covering analytics) and those left out with the reason. */
  eligible(): { ask: string[]; skip: Record<string, { code: string; message: string }> };
  /** Sends the query to a site's session and resolves with its acknowledgement (rejects on timeout or disconnect). */
  send(site: string, query: StatsQuery, timeoutMs: number): Promise<unknown>;
  /** The site's enrolled Ed25519 public key. */
  signKey(site: string): Uint8Array | undefined;
  audit(kind: string, data: Record<string, unknown>, subject?: string): void;
}

type Answers = { bodies: Map<string, StatsAnswerBody>; refused: Record<string, { code: string; message: string }> };

const DEFAULT_QUANTILES = [0.25, 0.5, 0.75];
const MAX_AUDITED_ANSWER = 64 * 1024;

/** Asks every site at once; an answer counts only when it parses, is signed by the site's key and answers this query. */
async function askAll(deps: StatsDeps, sites: readonly string[], query: StatsQuery, timeoutMs: number): Promise<Answers> {
  const bodies = new Map<string, StatsAnswerBody>();
  const refused: Answers['refused'] = {};
  await Promise.all(
    sites.map(async (site) => {
      const raw = await deps
        .send(site, query, timeoutMs)
        .catch((err: Error) => ({ ok: false, error: { code: 'NO_ANSWER', message: `no answer in ${timeoutMs} ms: ${err.message}` } }));
      const parsed = StatsReplySchema.safeParse(raw);
      let refusal: { code: string; message: string } | undefined;
      if (!parsed.success) refusal = { code: 'BAD_REQUEST', message: `malformed answer: ${parsed.error.issues[0]?.message ?? ''}` };
      else if (!parsed.data.ok) refusal = parsed.data.error;
      else {
        const { body, signature } = parsed.data;
        const key = deps.signKey(site);
        if (!key || !verifyDocument(body, signature, key))
          refusal = { code: 'BAD_SIGNATURE', message: 'the answer is not signed by the site' };
        else if (body.queryId !== query.id || body.institution !== site || body.federation !== deps.federation)
          refusal = { code: 'BAD_REQUEST', message: 'the answer is for another query, site or federation' };
        else {
          bodies.set(site, body);
          const size = JSON.stringify(body).length;
          deps.audit(
            'stats.answer',
            {
              queryId: query.id,
              phase: query.ask.phase,
              minCellSize: body.minCellSize,
              signature,
              ...(size <= MAX_AUDITED_ANSWER ? { answer: body } : { answerBytes: size }),
            },
            site,
          );
        }
      }
      if (refusal) {
        refused[site] = refusal;
        deps.audit('stats.refused', { queryId: query.id, phase: query.ask.phase, ...refusal }, site);
      }
    }),
  );
  return { bodies, refused };
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
  const described = await askAll(deps, sites, { ...base, ask: { phase: 'describe', columns } }, timeoutMs);
  const notes: string[] = [];
  const { ask, edges } = countAsk(req, described, notes);
  const counted = await askAll(deps, [...described.bodies.keys()], { ...base, ask }, timeoutMs);
  const parts = <T>(pick: (b: StatsAnswerBody) => T | undefined) =>
    [...counted.bodies].flatMap(([site, b]) => {
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
    );
  for (const column of ask.categorical)
    result.columns[column] = poolCategorical(parts((b) => b.categorical?.find((c) => c.column === column)));
  if (ask.survival)
    result.survival = poolSurvival(
      parts((b) => b.survival),
      ask.survival,
    );
  deps.audit('stats.result', {
    queryId: id,
    actor,
    answered: [...counted.bodies.keys()],
    refused: result.refused,
    columns: Object.keys(result.columns),
    survival: ask.survival !== undefined,
  });
  return result;
}
