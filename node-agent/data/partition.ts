/** Splits one labelled dataset among simulated institutions: iid, label-skewed (Dirichlet, shards) or size-skewed. */
import { createPrng, type Prng } from '../../crypto/prng.js';

/** How rows are dealt to institutions. */
export type PartitionScheme =
  { kind: 'iid' } | { kind: 'dirichlet'; alpha: number } | { kind: 'shards'; perInstitution: number } | { kind: 'quantity'; alpha: number };

const MAX_TRIES = 100;

/**
 * Parses `iid`, `dirichlet:<alpha>`, `shards:<per institution>` or `quantity:<alpha>`.
 * @example parsePartition('dirichlet:0.5') // { kind: 'dirichlet', alpha: 0.5 }
 */
export function parsePartition(text: string): PartitionScheme {
  const [kind, arg, ...rest] = text.trim().split(':');
  const usage = `expected iid, dirichlet:<alpha>, shards:<count> or quantity:<alpha>, got "${text}"`;
  if (rest.length > 0) throw new Error(`bad partition: ${usage}`);
  if (kind === 'iid' && arg === undefined) return { kind };
  if ((kind === 'dirichlet' || kind === 'quantity') && arg !== undefined) {
    const alpha = Number(arg);
    if (arg.trim() === '' || !Number.isFinite(alpha) || alpha <= 0) {
      throw new Error(`bad partition "${text}": alpha must be a positive number`);
    }
    return { kind, alpha };
  }
  if (kind === 'shards' && arg !== undefined) {
    const perInstitution = Number(arg);
    if (!/^\d+$/.test(arg.trim()) || perInstitution < 1) {
      throw new Error(`bad partition "${text}": shards per institution must be a positive integer`);
    }
    return { kind, perInstitution };
  }
  throw new Error(`bad partition: ${usage}`);
}

/** Row indices grouped by label (labels must be non-negative integers). */
function rowsByClass(labels: ArrayLike<number>): number[][] {
  const out: number[][] = [];
  for (let row = 0; row < labels.length; row++) {
    const label = labels[row] as number;
    if (!Number.isInteger(label) || label < 0) throw new RangeError(`row ${row}: label ${label} is not a class index`);
    while (out.length <= label) out.push([]);
    (out[label] as number[]).push(row);
  }
  return out;
}

/** Proportions ~ Dirichlet(alpha, ..., alpha) over k parts. */
function dirichlet(rng: Prng, k: number, alpha: number): number[] {
  const draws = Array.from({ length: k }, () => rng.gamma(alpha));
  const sum = draws.reduce((a, b) => a + b, 0);
  if (sum > 0) return draws.map((d) => d / sum);
  const onehot = new Array<number>(k).fill(0);
  onehot[rng.int(k)] = 1; // every draw underflowed (tiny alpha): all mass on one part
  return onehot;
}

/** Deals `rows` (in order) into parts with the given proportions, appending to `parts`. */
function dealByProportion(rows: number[], proportions: number[], parts: number[][]): void {
  let cumulative = 0;
  let start = 0;
  proportions.forEach((p, i) => {
    cumulative += p;
    const end = i === proportions.length - 1 ? rows.length : Math.round(cumulative * rows.length);
    (parts[i] as number[]).push(...rows.slice(start, Math.max(start, end)));
    start = Math.max(start, end);
  });
}

/** Redraws until every part has `minRows` rows (or MAX_TRIES); keeps the best draw; tops empty parts up to one row. */
function drawWithMinimum(draw: () => number[][], minRows: number, rng: Prng): number[][] {
  let best: number[][] = [];
  let bestMin = -1;
  for (let t = 0; t < MAX_TRIES && bestMin < minRows; t++) {
    const parts = draw();
    const smallest = Math.min(...parts.map((p) => p.length));
    if (smallest > bestMin) [best, bestMin] = [parts, smallest];
  }
  for (const part of best) {
    if (part.length > 0) continue;
    const largest = best.reduce((a, b) => (b.length > a.length ? b : a));
    const [moved] = largest.splice(rng.int(largest.length), 1);
    part.push(moved as number);
  }
  return best;
}

/** Shard boundaries that never straddle two labels when there are at least as many shards as classes. */
function labelPureShards(byClass: number[][], shardCount: number, n: number): number[][] {
  const classes = byClass.filter((rows) => rows.length > 0);
  if (shardCount < classes.length) {
    const sorted = classes.flat();
    return Array.from({ length: shardCount }, (_, s) =>
      sorted.slice(Math.round((s * n) / shardCount), Math.round(((s + 1) * n) / shardCount)),
    );
  }
  const exact = classes.map((rows) => (rows.length * shardCount) / n);
  const allot = exact.map((e, c) => Math.min((classes[c] as number[]).length, Math.max(1, Math.floor(e))));
  const order = exact.map((e, c) => ({ c, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac || a.c - b.c);
  for (let k = 0, total = allot.reduce((a, b) => a + b, 0); total !== shardCount; k++) {
    const c = (order[k % order.length] as { c: number }).c;
    const rows = (classes[c] as number[]).length;
    const step = total < shardCount ? 1 : -1;
    const next = (allot[c] as number) + step;
    if (next >= 1 && next <= rows) [allot[c], total] = [next, total + step];
  }
  return classes.flatMap((rows, c) => {
    const k = allot[c] as number;
    return Array.from({ length: k }, (_, s) => rows.slice(Math.round((s * rows.length) / k), Math.round(((s + 1) * rows.length) / k)));
  });
}

/**
 * Row indices per institution: disjoint, covering every row, each list ascending, the same for
 * the same seed. Dirichlet and quantity redraw (up to 100 times) until every institution has
 * max(1, floor(n / institutions / 10)) rows; an institution still empty then gets one row
 * from the largest.
 * @example partition(loadMnist().y, 10, parsePartition('shards:2'), 7)
 */
export function partition(labels: Int32Array | number[], institutions: number, scheme: PartitionScheme, seed: number): number[][] {
  const n = labels.length;
  if (!Number.isInteger(institutions) || institutions < 1)
    throw new RangeError(`institutions must be a positive integer, got ${institutions}`);
  if (institutions > n) throw new RangeError(`cannot give ${institutions} institutions a row each from ${n} rows`);
  const rng = createPrng(seed);
  const byClass = rowsByClass(labels);
  const empty = (): number[][] => Array.from({ length: institutions }, () => []);
  const minRows = Math.max(1, Math.floor(n / institutions / 10));
  let parts: number[][];
  if (scheme.kind === 'iid') {
    parts = empty();
    dealByProportion(rng.shuffle(Array.from({ length: n }, (_, i) => i)), new Array<number>(institutions).fill(1 / institutions), parts);
  } else if (scheme.kind === 'quantity') {
    const rows = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    parts = drawWithMinimum(
      () => {
        const out = empty();
        dealByProportion(rows, dirichlet(rng, institutions, scheme.alpha), out);
        return out;
      },
      minRows,
      rng,
    );
  } else if (scheme.kind === 'dirichlet') {
    parts = drawWithMinimum(
      () => {
        const out = empty();
        for (const rows of byClass) dealByProportion(rng.shuffle([...rows]), dirichlet(rng, institutions, scheme.alpha), out);
        return out;
      },
      minRows,
      rng,
    );
  } else {
    const shardCount = institutions * scheme.perInstitution;
    if (shardCount > n) throw new RangeError(`${shardCount} shards need at least ${shardCount} rows, have ${n}`);
    const shards = rng.shuffle(
      labelPureShards(
        byClass.map((rows) => rng.shuffle([...rows])),
        shardCount,
        n,
      ),
    );
    parts = empty().map((_, i) => shards.slice(i * scheme.perInstitution, (i + 1) * scheme.perInstitution).flat());
  }
  return parts.map((p) => p.sort((a, b) => a - b));
}

/**
 * A text table of each institution's label counts (rows: institutions, columns: classes, total).
 * @example console.log(partitionSummary(ds.y, parts, ds.classes));
 */
export function partitionSummary(labels: Int32Array | number[], parts: number[][], classes: string[]): string {
  const header = ['institution', ...classes, 'total'];
  const sums = new Array<number>(classes.length + 1).fill(0);
  const body = parts.map((rows, i) => {
    const counts = new Array<number>(classes.length).fill(0);
    for (const row of rows) {
      const label = labels[row] as number;
      counts[label] = (counts[label] ?? 0) + 1;
    }
    const cells = [...counts, rows.length];
    cells.forEach((v, j) => (sums[j] = (sums[j] as number) + v));
    return [String(i), ...cells.map(String)];
  });
  const table = [header, ...body, ['total', ...sums.map(String)]];
  const widths = header.map((_, j) => Math.max(...table.map((r) => (r[j] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((c, j) => (j === 0 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number))).join('  ');
  return table.map(line).join('\n');
}
