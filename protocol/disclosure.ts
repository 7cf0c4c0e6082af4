/** Small-cell suppression (sites on their counts; the coordinator on pooled counts under secure aggregation): every count from 1 to k-1 withheld, and enough others that no published total gives it back. */
import type { CountCell } from './analytics.js';
import { determinedCells, lineCells, type Line } from './disclosure-audit.js';

export type { Line } from './disclosure-audit.js';

/** How many of the nearest published cells are tried one by one before the smallest is taken. */
const TRIALS = 8;

/**
 * Suppresses counts in 1..k-1 (primary), then, for every line (cells whose total is published elsewhere, or a
 * `{ total, parts }` relation), adds the smallest other non-zero cell while the line's suppressed cells are a single
 * one or sum to less than k (secondary), until nothing changes. Last, the reader's arithmetic over all lines at once
 * (`determinedCells`): while some withheld cell is still determined (a chain of lines can give back a cell that no
 * single line does), the published cell of its lines whose withholding undoes that is withheld too, the smallest
 * first. A cell that withholding every other cell would not protect (a lone non-zero cell of a published total) is
 * left as it is. `relations` (default: the lines) are what the reader's arithmetic uses, when the line rule is asked
 * to treat more sums as published than are. Zeros are published as zeros.
 * @example protectCells([2, 10, 7], [[0, 1, 2]], 5) // [{n:0,suppressed:true},{n:10},{n:0,suppressed:true}]
 */
export function protectCells(
  counts: readonly number[],
  lines: readonly Line[],
  k: number,
  relations: readonly Line[] = lines,
): CountCell[] {
  const hidden = counts.map((n) => n > 0 && n < k);
  const unprotectable = new Set<number>();
  for (;;) {
    closeLines(counts, hidden, lines, k);
    const leak = determinedCells(hidden, relations).find((i) => !unprotectable.has(i));
    if (leak === undefined) break;
    const cell = complement(counts, hidden, relations, leak);
    if (cell === undefined) unprotectable.add(leak);
    else hidden[cell] = true;
  }
  return counts.map((n, i) => (hidden[i] ? { n: 0, suppressed: true } : { n }));
}

/** The line rule: no line with a single withheld cell, nor withheld cells summing to less than k. */
function closeLines(counts: readonly number[], hidden: boolean[], lines: readonly Line[], k: number): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const line of lines.map(lineCells)) {
      const withheld = line.filter((i) => hidden[i] && (counts[i] as number) > 0);
      const sum = withheld.reduce((s, i) => s + (counts[i] as number), 0);
      if (withheld.length === 0 || (withheld.length > 1 && sum >= k)) continue;
      const candidates = line.filter((i) => !hidden[i] && (counts[i] as number) > 0);
      if (candidates.length === 0) continue;
      hidden[smallest(counts, candidates)] = true;
      changed = true;
    }
  }
}

const smallest = (counts: readonly number[], cells: readonly number[]) =>
  cells.reduce((a, b) => ((counts[b] as number) < (counts[a] as number) ? b : a));

/**
 * The published cell to withhold so that `leak` is no longer determined: undefined when even withholding every
 * published cell would not do it; else the smallest of the cells sharing a line with it whose withholding alone does,
 * or, when none does alone, the smallest of them (the next round tries again).
 */
function complement(counts: readonly number[], hidden: readonly boolean[], lines: readonly Line[], leak: number): number | undefined {
  const published = counts.flatMap((n, i) => (!hidden[i] && n > 0 ? [i] : []));
  if (
    published.length === 0 ||
    determinedCells(
      hidden.map((h, i) => h || (counts[i] as number) > 0),
      lines,
    ).includes(leak)
  )
    return undefined;
  const near = new Set(
    lines
      .map(lineCells)
      .filter((line) => line.includes(leak))
      .flat(),
  );
  const nearby = published.filter((i) => near.has(i)).sort((a, b) => (counts[a] as number) - (counts[b] as number) || a - b);
  for (const cell of nearby.slice(0, TRIALS)) {
    const trial = [...hidden];
    trial[cell] = true;
    if (!determinedCells(trial, lines).includes(leak)) return cell;
  }
  return nearby[0] ?? smallest(counts, published);
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
