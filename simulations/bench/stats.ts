/** Small statistics and formatting shared by the bench sections: median with spread, and cells for the tables. */

/** A set of repeated measurements summarised as median and range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/**
 * The median and min–max of repeated measurements (NaN for none).
 * @example spread([3, 1, 2]) // { median: 2, min: 1, max: 3, n: 3 }
 */
export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  const mid = n >> 1;
  const median = n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[n - 1] as number, n };
}

/**
 * "median (min–max)" with `digits` decimals.
 * @example fmtSpread(spread([1, 2, 4]), 1) // "2.0 (1.0–4.0)"
 */
export function fmtSpread(s: Spread, digits = 2): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  if (s.n === 1) return s.median.toFixed(digits);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/**
 * The raw numbers of a spread under a prefix, for a row's `values`.
 * @example spreadValues('gbps', spread([1, 2])) // { gbps: 1.5, gbpsMin: 1, gbpsMax: 2 }
 */
export function spreadValues(prefix: string, s: Spread): Record<string, number> {
  return { [prefix]: s.median, [`${prefix}Min`]: s.min, [`${prefix}Max`]: s.max };
}

/**
 * Resolves on the next turn of the event loop, so timers and sockets get a chance between measurements.
 * @example await yieldLoop();
 */
export const yieldLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
