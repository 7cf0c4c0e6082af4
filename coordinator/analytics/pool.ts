/** Pools the sites' (suppressed) answers: Chan's formula for mean and variance, summed histograms and tables, quantiles from bins. */
import type {
  CategoricalAnswer,
  CategoricalResult,
  CountCell,
  CrosstabAnswer,
  CrosstabResult,
  Incomplete,
  NumericAnswer,
  NumericResult,
} from '../../protocol/index.js';

/** One site's part of a figure. */
export interface Part<T> {
  site: string;
  answer: T;
}

/** `incomplete` with the sites that withheld a part (nothing when none did). */
export function incompleteness(sites: Iterable<string>): Incomplete {
  const list = [...new Set(sites)].sort();
  return list.length > 0 ? { incomplete: true, incompleteSites: list } : {};
}

const withheld = (cells: readonly CountCell[]) => cells.some((c) => c.suppressed === true);

/**
 * Quantile p from a histogram (cells: below, bins..., above), interpolating linearly within the bin that holds it;
 * null (and no bound) when it falls below or above the edges or the histogram is empty.
 * @example histogramQuantile([10, 20], [0, 4, 0], 0.5) // { p: 0.5, value: 15, errorBound: 10 }
 */
export function histogramQuantile(edges: readonly number[], cells: readonly number[], p: number): NumericResult['quantiles'][number] {
  const total = cells.reduce((a, b) => a + b, 0);
  const target = p * total;
  let before = 0;
  for (let i = 0; i < cells.length; i++) {
    const n = cells[i] as number;
    if (n > 0 && before + n >= target) {
      if (i === 0 || i === cells.length - 1) return { p, value: null, errorBound: null };
      const lo = edges[i - 1] as number;
      const hi = edges[i] as number;
      return { p, value: lo + ((target - before) / n) * (hi - lo), errorBound: hi - lo };
    }
    before += n;
  }
  return { p, value: null, errorBound: null };
}

/**
 * A numeric column over the sites: count, missing and histogram summed; mean and std (n - 1) pooled with Chan et al.'s
 * formula over the sites that sent them; min/max are the outer edges of the first and last non-empty bins (null when
 * some values lie, or may lie, beyond the edges). With `fromHistogram` (DP noise or secure aggregation: no site sends a
 * mean) the mean and std are the pooled histogram's, each value at its bin's midpoint (`meanFrom: 'histogram'`; the
 * mean is then within half a bin width of the true one when no value lies beyond the edges; a tail cell counts at the edge).
 * @example poolNumeric(parts, [0, 50, 100], [0.25, 0.5, 0.75])
 */
export function poolNumeric(
  parts: readonly Part<NumericAnswer>[],
  edges: readonly number[],
  quantiles: readonly number[],
  fromHistogram = false,
): NumericResult {
  const cells = new Array<number>(edges.length + 1).fill(0);
  let count = 0;
  let missing = 0;
  let n = 0;
  let mean = 0;
  let m2 = 0;
  const lacking: string[] = [];
  let tailsWithheld = [false, false];
  for (const { site, answer } of parts) {
    tailsWithheld = [
      tailsWithheld[0] || answer.histogram[0]?.suppressed === true,
      tailsWithheld[1] || answer.histogram.at(-1)?.suppressed === true,
    ];
    count += answer.present.n;
    missing += answer.missing.n;
    answer.histogram.forEach((c, i) => (cells[i] = (cells[i] as number) + c.n));
    if (
      withheld([answer.present, answer.missing, ...answer.histogram]) ||
      (!fromHistogram && (answer.mean === undefined || answer.m2 === undefined))
    )
      lacking.push(site);
    if (answer.mean === undefined || answer.m2 === undefined || answer.present.n === 0) continue;
    const total = n + answer.present.n;
    const delta = answer.mean - mean;
    mean += (delta * answer.present.n) / total;
    m2 += answer.m2 + (delta * delta * n * answer.present.n) / total;
    n = total;
  }
  const bins = cells.slice(1, -1);
  const below = cells[0] as number;
  const above = cells[cells.length - 1] as number;
  const first = bins.findIndex((c) => c > 0);
  const last = bins.length - 1 - [...bins].reverse().findIndex((c) => c > 0);
  const moments = fromHistogram
    ? histogramMoments(edges, cells)
    : { mean: n > 0 ? mean : null, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : null };
  return {
    kind: 'numeric',
    count,
    missing,
    ...moments,
    min: first >= 0 && below === 0 && !tailsWithheld[0] ? (edges[first] as number) : null,
    max: first >= 0 && above === 0 && !tailsWithheld[1] ? (edges[last + 1] as number) : null,
    histogram: { edges: [...edges], counts: bins, below, above },
    quantiles: quantiles.map((p) => histogramQuantile(edges, cells, p)),
    ...incompleteness(lacking),
  };
}

/** Mean and std (n - 1) of a histogram with every value at its bin's midpoint, the tail cells' values at the outer edges. */
function histogramMoments(
  edges: readonly number[],
  cells: readonly number[],
): { mean: number | null; std: number | null; meanFrom: 'histogram' } {
  const n = cells.reduce((a, b) => a + b, 0);
  if (n === 0) return { mean: null, std: null, meanFrom: 'histogram' };
  const at = cells.map((_, i) =>
    i === 0
      ? (edges[0] as number)
      : i === cells.length - 1
        ? (edges.at(-1) as number)
        : ((edges[i - 1] as number) + (edges[i] as number)) / 2,
  );
  const mean = cells.reduce((s, c, i) => s + c * (at[i] as number), 0) / n;
  const ss = cells.reduce((s, c, i) => s + c * ((at[i] as number) - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : null, meanFrom: 'histogram' };
}

/**
 * A categorical column: counts per name summed over sites ("(other)": rows a site held in categories too rare to name).
 * @example poolCategorical(parts).counts // { current: 120, former: 200, never: 410, '(other)': 0 }
 */
export function poolCategorical(parts: readonly Part<CategoricalAnswer>[]): CategoricalResult {
  const counts: Record<string, number> = {};
  let missing = 0;
  let count = 0;
  const lacking: string[] = [];
  const add = (name: string, n: number) => {
    counts[name] = (counts[name] ?? 0) + n;
    count += n;
  };
  for (const { site, answer } of parts) {
    answer.categories.forEach((c) => add(c.name, c.count.n));
    add('(other)', answer.other.n);
    missing += answer.missing.n;
    if (withheld([answer.missing, answer.other, ...answer.categories.map((c) => c.count)])) lacking.push(site);
  }
  return { kind: 'categorical', count, missing, counts, ...incompleteness(lacking) };
}

/**
 * A crosstab: cells summed by row and column name over the sites (names in first-seen order).
 * @example poolCrosstab(parts).cells
 */
export function poolCrosstab(parts: readonly Part<CrosstabAnswer>[]): CrosstabResult {
  const rowNames: string[] = [];
  const colNames: string[] = [];
  const sums = new Map<string, number>();
  const lacking: string[] = [];
  for (const { site, answer } of parts) {
    answer.rowNames.forEach((r, i) =>
      answer.colNames.forEach((c, j) => {
        if (!rowNames.includes(r)) rowNames.push(r);
        if (!colNames.includes(c)) colNames.push(c);
        const cell = answer.cells[i]?.[j] as CountCell;
        if (cell.suppressed) lacking.push(site);
        sums.set(JSON.stringify([r, c]), (sums.get(JSON.stringify([r, c])) ?? 0) + cell.n);
      }),
    );
  }
  const first = parts[0]?.answer;
  return {
    rows: first?.rows ?? '',
    cols: first?.cols ?? '',
    rowNames,
    colNames,
    cells: rowNames.map((r) => colNames.map((c) => sums.get(JSON.stringify([r, c])) ?? 0)),
    ...incompleteness(lacking),
  };
}
