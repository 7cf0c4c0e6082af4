/** Kaplan-Meier on a grid from pooled at-risk and event counts, Greenwood bands on the log(-log) scale, and the log-rank test. */
import { chiSquareUpperTail } from './chi-square.js';

/** z for a two-sided 95% band. */
export const Z95 = 1.959963984540054;

export interface GridCounts {
  atRisk: readonly number[];
  events: readonly number[];
}

/**
 * S(t_j) = prod_{i<=j} (1 - d_i / n_i); Greenwood's var(log S) sum g = sum d / (n (n - d)); the band is
 * S^exp(±z sqrt(g) / |log S|) (log-log, so it stays in [0, 1]); where S is 1 or 0 the band is S itself.
 * @example kaplanMeier({ atRisk: [4, 3], events: [1, 1] }).survival // [0.75, 0.5]
 */
export function kaplanMeier(c: GridCounts, z = Z95): { survival: number[]; lower: number[]; upper: number[] } {
  let s = 1;
  let g = 0;
  const survival: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  c.atRisk.forEach((n, j) => {
    const d = c.events[j] as number;
    if (n > 0 && d > 0) {
      s *= 1 - d / n;
      g = n > d ? g + d / (n * (n - d)) : Number.POSITIVE_INFINITY;
    }
    survival.push(s);
    if (s <= 0 || s >= 1 || !Number.isFinite(g)) {
      lower.push(s);
      upper.push(s);
      return;
    }
    const spread = (z * Math.sqrt(g)) / Math.abs(Math.log(s));
    lower.push(s ** Math.exp(spread));
    upper.push(s ** Math.exp(-spread));
  });
  return { survival, lower, upper };
}

/** Solves A x = b by Gaussian elimination with partial pivoting; null when A is singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const m = b.length;
  const rows = a.map((r, i) => [...r, b[i] as number]);
  for (let col = 0; col < m; col++) {
    let pivot = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(rows[r]?.[col] as number) > Math.abs(rows[pivot]?.[col] as number)) pivot = r;
    if (Math.abs(rows[pivot]?.[col] as number) < 1e-12) return null;
    [rows[col], rows[pivot]] = [rows[pivot] as number[], rows[col] as number[]];
    const p = rows[col] as number[];
    for (let r = 0; r < m; r++) {
      if (r === col) continue;
      const row = rows[r] as number[];
      const f = (row[col] as number) / (p[col] as number);
      for (let k = col; k <= m; k++) row[k] = (row[k] as number) - f * (p[k] as number);
    }
  }
  return rows.map((r, i) => (r[m] as number) / (r[i] as number));
}

/**
 * The log-rank test between groups on the same grid: per step, expected events E_g = d n_g / n and the hypergeometric
 * covariance V_gh = d (n - d) / (n - 1) (n_g / n) (δ_gh - n_h / n); chi-square = (O - E)' V^-1 (O - E) over the
 * first G - 1 groups, df = G - 1. Null when fewer than two groups or no information.
 * @example logRank([{ atRisk: [2, 1], events: [1, 0] }, { atRisk: [2, 2], events: [0, 1] }])
 */
export function logRank(
  groups: readonly GridCounts[],
): { chiSquare: number; df: number; pValue: number; observed: number[]; expected: number[] } | null {
  const G = groups.length;
  if (G < 2) return null;
  const steps = groups[0]?.atRisk.length ?? 0;
  const observed = new Array<number>(G).fill(0);
  const expected = new Array<number>(G).fill(0);
  const v = Array.from({ length: G - 1 }, () => new Array<number>(G - 1).fill(0));
  for (let j = 0; j < steps; j++) {
    const n = groups.reduce((s, g) => s + (g.atRisk[j] as number), 0);
    const d = groups.reduce((s, g) => s + (g.events[j] as number), 0);
    groups.forEach((g, i) => (observed[i] = (observed[i] as number) + (g.events[j] as number)));
    if (n <= 0 || d <= 0) continue;
    groups.forEach((g, i) => (expected[i] = (expected[i] as number) + (d * (g.atRisk[j] as number)) / n));
    if (n <= 1) continue;
    const factor = (d * (n - d)) / (n - 1);
    for (let a = 0; a < G - 1; a++) {
      const na = (groups[a]?.atRisk[j] as number) / n;
      for (let b = 0; b < G - 1; b++) {
        const nb = (groups[b]?.atRisk[j] as number) / n;
        (v[a] as number[])[b] = ((v[a] as number[])[b] as number) + factor * na * ((a === b ? 1 : 0) - nb);
      }
    }
  }
  const diff = observed.slice(0, G - 1).map((o, i) => o - (expected[i] as number));
  const x = solve(v, diff);
  if (!x) return null;
  const chiSquare = diff.reduce((s, dv, i) => s + dv * (x[i] as number), 0);
  return { chiSquare, df: G - 1, pValue: chiSquareUpperTail(chiSquare, G - 1), observed, expected };
}
