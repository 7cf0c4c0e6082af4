/** Pure maths of the robust strategies: coordinate-wise median and trimmed mean (Yin et al. 2018), Krum scores (Blanchard et al. 2017). */

/** Sorts `values` ascending in place: insertion sort for the short columns a round has, the built-in sort beyond. */
function sortInPlace(values: Float64Array): void {
  if (values.length > 32) {
    values.sort();
    return;
  }
  for (let i = 1; i < values.length; i++) {
    const x = values[i] as number;
    let j = i - 1;
    while (j >= 0 && (values[j] as number) > x) {
      values[j + 1] = values[j] as number;
      j--;
    }
    values[j + 1] = x;
  }
}

/**
 * The median of `values` (the mean of the two middle ones for an even count). Reorders `values`.
 * @example median(Float64Array.of(5, 1, 100, 2, 3)) // 3
 */
export function median(values: Float64Array): number {
  if (values.length === 0) throw new RangeError('median of no values');
  sortInPlace(values);
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
}

/**
 * The mean of `values` without its `k` smallest and `k` largest. Reorders `values`.
 * @example trimmedMean(Float64Array.of(5, 1, 100, 2, 3), 1) // (2 + 3 + 5) / 3
 */
export function trimmedMean(values: Float64Array, k: number): number {
  if (!(Number.isInteger(k) && k >= 0 && 2 * k < values.length)) {
    throw new RangeError(`cannot trim ${k} values from each side of ${values.length}`);
  }
  sortInPlace(values);
  let sum = 0;
  for (let i = k; i < values.length - k; i++) sum += values[i] as number;
  return sum / (values.length - 2 * k);
}

/**
 * How many values the trimmed mean drops from each side: ⌊β·n⌋ (as Yin et al., scipy and Flower).
 * @example trimCount(10, 0.1) // 1; trimCount(5, 0.1) // 0: nothing is trimmed below 1/β updates
 */
export function trimCount(n: number, beta: number): number {
  return Math.floor(beta * n + 1e-9);
}

/**
 * Adds the squared distances between every pair of `vectors` (blocks of the same coordinates) into the
 * symmetric n×n matrix `dist` (row-major): call it once per block to get whole-update distances.
 * @example addSquaredDistances(dist, [Float32Array.of(0, 0), Float32Array.of(3, 4)]) // dist[1] += 25, dist[2] += 25
 */
export function addSquaredDistances(dist: Float64Array, vectors: Float32Array[]): void {
  const n = vectors.length;
  for (let i = 0; i < n; i++) {
    const a = vectors[i] as Float32Array;
    for (let j = i + 1; j < n; j++) {
      const b = vectors[j] as Float32Array;
      let sum = 0;
      for (let c = 0; c < a.length; c++) {
        const d = (a[c] as number) - (b[c] as number);
        sum += d * d;
      }
      dist[i * n + j] = (dist[i * n + j] as number) + sum;
      dist[j * n + i] = (dist[j * n + i] as number) + sum;
    }
  }
}

/**
 * Krum scores: for each update, the sum of its squared distances to its n − f − 2 nearest others.
 * Needs n ≥ 2f + 3 (Blanchard et al.'s condition n > 2f + 2).
 * @example krumScores(dist, 5, 1) // Float64Array(5)
 */
export function krumScores(dist: Float64Array, n: number, f: number): Float64Array {
  if (n < 2 * f + 3) throw new RangeError(`Krum with f=${f} needs at least ${2 * f + 3} updates (n > 2f + 2), got ${n}`);
  const neighbours = n - f - 2;
  const scores = new Float64Array(n);
  const row = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[k++] = dist[i * n + j] as number;
    sortInPlace(row);
    let sum = 0;
    for (let j = 0; j < neighbours; j++) sum += row[j] as number;
    scores[i] = sum;
  }
  return scores;
}

/**
 * Indices of the `m` lowest scores, lowest first; ties go to the earlier index (deterministic).
 * @example lowestScores(Float64Array.of(3, 1, 2), 2) // [1, 2]
 */
export function lowestScores(scores: Float64Array, m: number): number[] {
  return Array.from(scores, (s, i) => [s, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(0, m)
    .map(([, i]) => i);
}
