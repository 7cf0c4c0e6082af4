/** `cohort stats --check`: asks every eligible site to compare its columns with the study's data dictionary, before any round. */
import { randomUUID } from 'node:crypto';
import type { StatsCheckResult } from '../../protocol/index.js';
import { askAll, type StatsDeps } from './ask.js';
import type { StatsRequest } from './request.js';

/**
 * One check query (phase `check`: the sites read the dictionary from the study they consented to); audited like a stats
 * query (`stats.query`, each `stats.answer` or `stats.refused`, `stats.result`).
 * @example const check = await runCheck(deps, { check: true }, 'token:tok_1'); check.sites['site-1'].columns
 */
export async function runCheck(deps: StatsDeps, req: StatsRequest, actor: string): Promise<StatsCheckResult> {
  const { ask: sites, skip } = deps.eligible();
  const id = randomUUID();
  deps.audit('stats.query', { queryId: id, actor, request: req, asked: sites, skipped: skip });
  const query = {
    id,
    federation: deps.federation,
    ...(req.minCellSize ? { minCellSize: req.minCellSize } : {}),
    ask: { phase: 'check' as const },
  };
  const answers = await askAll(deps, sites, query, req.timeoutMs ?? 15_000);
  const result: StatsCheckResult = {
    format: 'cohort-stats-check/v1',
    federation: deps.federation,
    queryId: id,
    sites: {},
    refused: { ...skip, ...answers.refused },
  };
  for (const [site, b] of answers.bodies) {
    if (!b.check) continue;
    result.sites[site] = {
      rows: b.rows.n,
      ...(b.rows.suppressed ? { suppressed: true as const } : {}),
      minCellSize: b.minCellSize,
      ...b.check,
    };
  }
  deps.audit('stats.result', {
    queryId: id,
    actor,
    check: true,
    answered: Object.keys(result.sites),
    refused: result.refused,
    differs: Object.fromEntries(
      Object.entries(result.sites).map(([s, r]) => [s, r.columns.filter((c) => c.status !== 'ok').map((c) => c.name)]),
    ),
  });
  return result;
}
