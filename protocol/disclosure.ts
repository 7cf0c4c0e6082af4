/** Small-cell suppression (sites on their counts; the coordinator on pooled counts under secure aggregation): every count from 1 to k-1 withheld, and enough others that no published total gives it back. */
import type { CountCell } from './analytics.js';

/**
 * Suppresses counts in 1..k-1 (primary), then, for every line (a set of cells whose total is published elsewhere),
 * adds the smallest other non-zero cell while the line's suppressed cells are a single one or sum to less than k
 * (secondary), until nothing changes: a published total minus the published cells never yields a withheld count.
 * Zeros are published as zeros.
 * @example protectCells([2, 10, 7], [[0, 1, 2]], 5) // [{n:0,suppressed:true},{n:10},{n:0,suppressed:true}]
 */
export function protectCells(counts: readonly number[], lines: readonly (readonly number[])[], k: number): CountCell[] {
  const hidden = counts.map((n) => n > 0 && n < k);
  for (let changed = true; changed;) {
    changed = false;
    for (const line of lines) {
      const withheld = line.filter((i) => hidden[i] && (counts[i] as number) > 0);
      const sum = withheld.reduce((s, i) => s + (counts[i] as number), 0);
      if (withheld.length === 0 || (withheld.length > 1 && sum >= k)) continue;
      const candidates = line.filter((i) => !hidden[i] && (counts[i] as number) > 0);
      if (candidates.length === 0) continue;
      const smallest = candidates.reduce((a, b) => ((counts[b] as number) < (counts[a] as number) ? b : a));
      hidden[smallest] = true;
      changed = true;
    }
  }
  return counts.map((n, i) => (hidden[i] ? { n: 0, suppressed: true } : { n }));
}

/**
 * One count published alone (no total gives it back): suppressed when in 1..k-1.
 * @example protectCount(3, 5) // { n: 0, suppressed: true }
 */
export function protectCount(n: number, k: number): CountCell {
  return n > 0 && n < k ? { n: 0, suppressed: true } : { n };
}

/** Every cell withheld (a part whose total is itself withheld). */
export function allSuppressed(length: number): CountCell[] {
  return Array.from({ length }, () => ({ n: 0, suppressed: true as const }));
}
