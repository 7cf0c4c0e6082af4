/** Secure aggregation of counts: the one layout of a site's count vector, so every site and the coordinator index it alike. */
import type { CountAsk } from './analytics.js';

/** Where each figure sits in the vector (offsets into it). */
export interface SecureLayout {
  length: number;
  rows: number;
  numeric: { column: string; present: number; missing: number; histogram: number; cells: number }[];
  survival?: { excluded: number; atRisk: number; events: number; steps: number };
}

/**
 * The vector a site masks for a count ask: [rows, per numeric column (ask order) present, missing, histogram cells
 * (below, bins, above), then survival: excluded, at risk per step, events per step]. Categorical columns, crosstabs and
 * survival groups are not in it (their names differ between sites): they are not asked under secure aggregation.
 * @example secureLayout({ phase: 'count', numeric: [{ column: 'age', edges: [0, 50, 100] }], categorical: [], crosstabs: [] }).length // 7
 */
export function secureLayout(ask: CountAsk): SecureLayout {
  let at = 1;
  const numeric = ask.numeric.map(({ column, edges }) => {
    const entry = { column, present: at, missing: at + 1, histogram: at + 2, cells: edges.length + 1 };
    at += 2 + edges.length + 1;
    return entry;
  });
  const layout: SecureLayout = { length: at, rows: 0, numeric };
  if (ask.survival) {
    const steps = ask.survival.grid.length;
    layout.survival = { excluded: at, atRisk: at + 1, events: at + 1 + steps, steps };
    layout.length = at + 1 + 2 * steps;
  }
  return layout;
}

/**
 * Why a count ask cannot go under secure aggregation, or null: it names categories, crosstabs or a survival group.
 * @example secureAskProblem({ phase: 'count', numeric: [], categorical: ['sex'], crosstabs: [] }) // 'categorical columns ...'
 */
export function secureAskProblem(ask: CountAsk): string | null {
  if (ask.categorical.length > 0 || ask.crosstabs.length > 0)
    return 'categorical columns and crosstabs are not asked under secure aggregation (their category names differ between sites)';
  if (ask.survival?.group !== undefined) return 'survival groups are not asked under secure aggregation';
  return null;
}
