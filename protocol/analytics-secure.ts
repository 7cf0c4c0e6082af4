/** Secure aggregation of counts: the one layout of a site's count vector, so every site and the coordinator index it alike. */
import { MISSING_CATEGORY, OTHER_CATEGORY, type CountAsk } from './analytics.js';

/** Where each figure sits in the vector (offsets into it). */
export interface SecureLayout {
  length: number;
  rows: number;
  numeric: { column: string; present: number; missing: number; histogram: number; cells: number }[];
  /** Per categorical column: one cell per agreed name, then (other), then (missing). */
  categorical: { column: string; names: string[]; at: number }[];
  /** Per crosstab: the row-major matrix over both columns' names, each followed by (other) and (missing). */
  crosstabs: { rows: string; cols: string; rowNames: string[]; colNames: string[]; at: number }[];
  /** Per group (the agreed group names, or one '(all)' curve): at risk per step, then events per step. */
  survival?: { excluded: number; steps: number; groups: { group: string; atRisk: number; events: number }[] };
}

/** A column's agreed names with (other) and (missing) after them: the labels of its cells in the vector. */
export function secureNames(ask: CountAsk, column: string): string[] {
  return [...(ask.vocabulary?.[column] ?? []), OTHER_CATEGORY, MISSING_CATEGORY];
}

/**
 * The vector a site masks for a count ask: [rows, per numeric column (ask order) present, missing, histogram cells
 * (below, bins, above), per categorical column its agreed names' counts, (other), (missing), per crosstab its matrix
 * row by row, then survival: excluded, and per group at risk per step, events per step]. Category and group names
 * come from `ask.vocabulary` (agreed before masking: names differ between sites).
 * @example secureLayout({ phase: 'count', numeric: [{ column: 'age', edges: [0, 50, 100] }], categorical: [], crosstabs: [] }).length // 7
 */
export function secureLayout(ask: CountAsk): SecureLayout {
  let at = 1;
  const take = (n: number) => {
    const start = at;
    at += n;
    return start;
  };
  const numeric = ask.numeric.map(({ column, edges }) => {
    const start = take(2 + edges.length + 1);
    return { column, present: start, missing: start + 1, histogram: start + 2, cells: edges.length + 1 };
  });
  const categorical = ask.categorical.map((column) => {
    const names = secureNames(ask, column);
    return { column, names: names.slice(0, -2), at: take(names.length) };
  });
  const crosstabs = ask.crosstabs.map(({ rows, cols }) => {
    const rowNames = secureNames(ask, rows);
    const colNames = secureNames(ask, cols);
    return { rows, cols, rowNames, colNames, at: take(rowNames.length * colNames.length) };
  });
  const layout: SecureLayout = { length: at, rows: 0, numeric, categorical, crosstabs };
  if (ask.survival) {
    const steps = ask.survival.grid.length;
    const excluded = take(1);
    const names = ask.survival.group === undefined ? ['(all)'] : (ask.vocabulary?.[ask.survival.group] ?? []);
    const groups = names.map((group) => {
      const start = take(2 * steps);
      return { group, atRisk: start, events: start + steps };
    });
    layout.survival = { excluded, steps, groups };
  }
  layout.length = at;
  return layout;
}

/**
 * Why a count ask cannot go under secure aggregation, or null: a categorical, crosstab or survival group column
 * without agreed names.
 * @example secureAskProblem({ phase: 'count', numeric: [], categorical: ['sex'], crosstabs: [] }) // 'no agreed category names for sex ...'
 */
export function secureAskProblem(ask: CountAsk): string | null {
  const named = [
    ...ask.categorical,
    ...ask.crosstabs.flatMap((x) => [x.rows, x.cols]),
    ...(ask.survival?.group !== undefined ? [ask.survival.group] : []),
  ];
  const lacking = [...new Set(named.filter((c) => ask.vocabulary?.[c] === undefined))];
  return lacking.length > 0 ? `no agreed category names for ${lacking.join(', ')} (a secure count needs them before masking)` : null;
}

/**
 * What a site signs with its enrolled Ed25519 identity to vouch for its mask key for one query: the other sites verify
 * it against the key the study manifest lists for that site, so a coordinator that swaps a key is detected.
 * @example signDocument(maskKeyStatement({ federation, queryId, institution: me, maskKey }), identity.signSecretKey)
 */
export function maskKeyStatement(args: { federation: string; queryId: string; institution: string; maskKey: string }) {
  return { format: 'cohort-stats-mask-key/v1' as const, ...args };
}
