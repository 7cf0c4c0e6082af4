/** What one site computes for Kaplan-Meier: at-risk and event counts per step of the agreed time grid, per group. */
import { isMissingToken, type SurvivalAnswer } from '../../protocol/index.js';
import { allSuppressed, protectCells, protectCount } from './disclosure.js';
import { numericCell } from './site-counts.js';
import { NO_NOISE, type CountNoise } from './noise.js';
import { columnCells, type Table } from './table.js';

const EVENT = new Set(['1', 'true', 'yes', 'dead', 'event']);
const CENSORED = new Set(['0', 'false', 'no', 'alive', 'censored']);
/** The curve over every usable row, beside the per-group ones. */
export const ALL_GROUP = '(all)';

/** 1 for an event, 0 for censoring, null when the cell is missing or not one of the known spellings. */
export function eventCell(cell: string | undefined): 0 | 1 | null {
  if (isMissingToken(cell)) return null;
  const v = (cell as string).trim().toLowerCase();
  return EVENT.has(v) ? 1 : CENSORED.has(v) ? 0 : null;
}

/**
 * Raw counts on the grid: step j covers (grid[j-1], grid[j]] (step 0 everything up to grid[0]); at risk at step j:
 * rows with time > grid[j-1]; events: rows with an event inside the step. Times after the last grid point are censored there.
 * @example gridCounts([{ time: 2, event: 1 }], [1, 2, 3]) // { atRisk: [1, 1, 0], events: [0, 1, 0] }
 */
export function gridCounts(
  rows: readonly { time: number; event: 0 | 1 }[],
  grid: readonly number[],
): { atRisk: number[]; events: number[] } {
  const atRisk = grid.map((_, j) => (j === 0 ? rows.length : rows.filter((r) => r.time > (grid[j - 1] as number)).length));
  const events = grid.map(
    (t, j) => rows.filter((r) => r.event === 1 && r.time <= t && (j === 0 || r.time > (grid[j - 1] as number))).length,
  );
  return { atRisk, events };
}

/**
 * Per group (named when it holds at least k usable rows), or over all usable rows when no group is asked: a step whose
 * at-risk count is 1..k-1 is withheld whole (at risk and events). Rows with a missing time, event or group, or in a group
 * too small to name, are `excluded`; the group sizes and `excluded` add up to the published row count, so they are
 * suppressed as one line (a group whose size is withheld sends no curve; with no group, withheld `excluded` withholds the curve).
 * @example survivalAnswer(table, { time: 'days', event: 'died', grid: [30, 60, 90] }, 5)
 */
export function survivalAnswer(
  table: Table,
  ask: { time: string; event: string; group?: string | undefined; grid: readonly number[] },
  k: number,
  noise: CountNoise = NO_NOISE,
): SurvivalAnswer {
  const times = columnCells(table, ask.time);
  const events = columnCells(table, ask.event);
  const groups = ask.group === undefined ? undefined : columnCells(table, ask.group);
  const missingColumn = [ask.time, ask.event, ask.group].find((c, i) => c !== undefined && [times, events, groups][i] === undefined);
  if (missingColumn !== undefined) throw new Error(`${table.source}: no column "${missingColumn}"`);
  const usable: { time: number; event: 0 | 1; group: string }[] = [];
  table.rows.forEach((_, i) => {
    const time = numericCell(times?.[i]);
    const event = eventCell(events?.[i]);
    const group = groups ? (isMissingToken(groups[i]) ? null : (groups[i] as string).trim()) : ALL_GROUP;
    if (time !== null && event !== null && group !== null) usable.push({ time, event, group });
  });
  const sizes = new Map<string, number>();
  for (const r of usable) sizes.set(r.group, (sizes.get(r.group) ?? 0) + 1);
  const named = [...sizes]
    .filter(([, n]) => n >= k)
    .map(([g]) => g)
    .sort();
  const kept = named.map((g) => sizes.get(g) as number);
  const excluded = table.rows.length - kept.reduce((a, b) => a + b, 0);
  const line = protectCells(noise.add([...kept, excluded]), [[...kept.keys(), kept.length]], k);
  const curve = (group: string, i: number) => {
    const raw = gridCounts(
      usable.filter((r) => r.group === group),
      ask.grid,
    );
    if (line[i]?.suppressed) return { group, atRisk: allSuppressed(ask.grid.length), events: allSuppressed(ask.grid.length) };
    const noisyRisk = noise.add(raw.atRisk);
    const noisyEvents = noise.add(raw.events).map((d, j) => Math.min(d, noisyRisk[j] as number));
    const atRisk = noisyRisk.map((n) => protectCount(n, k));
    return { group, atRisk, events: noisyEvents.map((n, j) => (atRisk[j]?.suppressed ? { n: 0, suppressed: true as const } : { n })) };
  };
  return { groups: named.map(curve), excluded: line[kept.length] as SurvivalAnswer['excluded'] };
}
