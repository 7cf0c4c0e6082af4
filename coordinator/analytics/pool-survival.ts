/** Pools the sites' survival counts per group, then Kaplan-Meier curves with bands and the log-rank test between groups. */
import type { CountCell, SurvivalAnswer, SurvivalCurve, SurvivalResult } from '../../protocol/index.js';
import { incompleteness, type Part } from './pool.js';
import { kaplanMeier, logRank } from './kaplan-meier.js';

/** The pooled curve's name when no group is asked (and for the sum of all groups when one is). */
export const ALL_GROUPS = '(all)';

interface Summed {
  atRisk: number[];
  events: number[];
  lacking: string[];
}

/**
 * Curves per group (and over all groups), each from counts summed over the sites on the grid, and the log-rank test
 * when there are two groups or more. A step a site withheld (fewer than its k at risk) is missing from the sum: the
 * curve says which sites lacked a part.
 * @example poolSurvival(parts, { time: 'days', event: 'died', grid: [30, 60] })
 */
export function poolSurvival(
  parts: readonly Part<SurvivalAnswer>[],
  ask: { time: string; event: string; group?: string | undefined; grid: readonly number[] },
): SurvivalResult {
  const zero = (): Summed => ({ atRisk: ask.grid.map(() => 0), events: ask.grid.map(() => 0), lacking: [] });
  const groups = new Map<string, Summed>();
  const all = zero();
  const add = (into: Summed, site: string, atRisk: readonly CountCell[], events: readonly CountCell[]) => {
    atRisk.forEach((c, j) => (into.atRisk[j] = (into.atRisk[j] as number) + c.n));
    events.forEach((c, j) => (into.events[j] = (into.events[j] as number) + c.n));
    if ([...atRisk, ...events].some((c) => c.suppressed)) into.lacking.push(site);
  };
  for (const { site, answer } of parts) {
    for (const g of answer.groups) {
      if (!groups.has(g.group)) groups.set(g.group, zero());
      add(groups.get(g.group) as Summed, site, g.atRisk, g.events);
      if (ask.group !== undefined) add(all, site, g.atRisk, g.events);
    }
    if (answer.excluded.suppressed) all.lacking.push(site);
  }
  const curve = (group: string, s: Summed): SurvivalCurve => ({
    group,
    times: [...ask.grid],
    atRisk: s.atRisk,
    events: s.events,
    ...kaplanMeier(s),
    ...incompleteness(s.lacking),
  });
  const named = [...groups].filter(([g]) => g !== ALL_GROUPS).sort(([a], [b]) => a.localeCompare(b));
  const overall = ask.group === undefined ? (groups.get(ALL_GROUPS) ?? zero()) : all;
  const test = ask.group !== undefined ? logRank(named.map(([, s]) => s)) : null;
  return {
    time: ask.time,
    event: ask.event,
    ...(ask.group !== undefined ? { group: ask.group } : {}),
    band: 'log-log 95%',
    curves: [curve(ALL_GROUPS, overall), ...(ask.group !== undefined ? named.map(([g, s]) => curve(g, s)) : [])],
    ...(test ? { logRank: { chiSquare: test.chiSquare, df: test.df, pValue: test.pValue } } : {}),
  };
}

/**
 * What the survival figures lack and why, for stats.json's notes: each part (a site, or "(pooled)" under secure
 * aggregation) that withheld its count of unusable rows, and the curves it withheld with it so that the row count minus
 * the published first at-risk counts does not give that count back.
 * @example survivalNotes(parts) // ['survival: (pooled) withheld the count of rows that could not be used ...']
 */
export function survivalNotes(parts: readonly Part<SurvivalAnswer>[]): string[] {
  return parts
    .filter(({ answer }) => answer.excluded.suppressed)
    .map(({ site, answer }) => {
      const curves = answer.groups.filter((g) => g.atRisk[0]?.suppressed).map((g) => g.group);
      const also = curves.length > 0 ? ` and, so that the row count does not give it back, the curve of ${curves.join(', ')}` : '';
      return `survival: ${site} withheld the count of rows that could not be used (missing time, event or group; 1..k-1 or protecting a small group)${also}`;
    });
}
