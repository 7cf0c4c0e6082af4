/** A DICOM manifest's `site` column as a natural partition: one institution per site, each keeping its own test rows. */
import { splitTrainTest, type Dataset } from '../../node-agent/data/index.js';

/** Per institution (sites sorted by name): its training rows and its own test rows, indices into the data set. */
export interface SiteSplit {
  names: string[];
  train: number[][];
  test: number[][];
}

/**
 * Groups rows by their site and splits each group into training and test rows (stratified, `testFraction`, seeded),
 * as natural CSV partitions do.
 * @example splitBySite(all.y, all.classes, ['a', 'b', 'a'], 0.2, 0).names // ['a', 'b']
 */
export function splitBySite(y: Dataset['y'], classes: string[], siteOf: readonly string[], testFraction: number, seed: number): SiteSplit {
  const names = [...new Set(siteOf)].sort();
  const out: SiteSplit = { names, train: [], test: [] };
  for (const name of names) {
    const rows = siteOf.flatMap((s, i) => (s === name ? [i] : []));
    const { train, test } = splitTrainTest({ y: Int32Array.from(rows, (r) => y[r] as number), classes }, testFraction, seed);
    out.train.push(train.map((i) => rows[i] as number));
    out.test.push(test.map((i) => rows[i] as number));
  }
  return out;
}
