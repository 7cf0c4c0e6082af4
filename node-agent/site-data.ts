/** The site's rows for a spec, split once into training rows and a fixed validation set the model never trains on. */
import { canonicalJson, type ModelSpec } from '../protocol/index.js';
import { selectRows, splitTrainTest } from './data/index.js';
import { isStreamed, selectStreamedRows, type AnyDataset } from './data/row-stream.js';
import type { DataSource } from './data-source.js';

export interface SiteRows {
  all: AnyDataset;
  train: AnyDataset;
  /** Undefined when the validation fraction is 0 or the site has too few rows. */
  val: AnyDataset | undefined;
}

/** The given rows of an in-memory (copied) or streamed (nothing read) data set. */
const pick = (ds: AnyDataset, rows: number[]): AnyDataset => (isStreamed(ds) ? selectStreamedRows(ds, rows) : selectRows(ds, rows));

/**
 * Loads lazily, once per architecture (normalisation aside), and keeps the split fixed across rounds,
 * so validation metrics of different rounds and of candidate models are comparable.
 * @example const rows = siteData(source, 0.1, 7).load(spec); rows.train.n
 */
export function siteData(source: DataSource, valFraction: number, seed: number): { load(spec: ModelSpec): SiteRows } {
  let cached: { key: string; rows: SiteRows } | undefined;
  return {
    load(spec) {
      const key = canonicalJson({ ...spec, normalization: undefined, channelNormalization: undefined });
      if (cached?.key === key) return cached.rows;
      const all = source.rows ? source.rows(spec) : source.load(spec);
      const { train, test } = splitTrainTest(all, valFraction, seed);
      const rows: SiteRows =
        test.length > 0 && train.length > 0 ? { all, train: pick(all, train), val: pick(all, test) } : { all, train: all, val: undefined };
      cached = { key, rows };
      return rows;
    },
  };
}
