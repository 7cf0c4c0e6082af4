/** A site's per-channel pixel statistics (count, mean, M2 per channel), the summary pooled normalisation is made from. */
import { channelStatsFromSums } from '../../protocol/feature-stats.js';
import type { FeatureStats } from '../../protocol/messages.js';
import { batchFeed, type AnyDataset } from './row-stream.js';

/**
 * Sums and sums of squares of every channel over all the rows' pixels (values in [0, 1], before any normalisation),
 * read a batch at a time (a streamed set is decoded once more, never held whole), as count, mean and M2 per channel.
 * Only these numbers leave the site.
 * @example const s = await channelStats(rows.all); s.mean // [0.48, 0.45, 0.40]
 */
export async function channelStats(ds: AnyDataset, batchSize = 256): Promise<FeatureStats> {
  const c = ds.imageShape?.[2];
  if (!c) throw new Error('pooled channel normalisation needs image data (images:DIR or dicom:MANIFEST.csv)');
  const sums = new Float64Array(c);
  const squares = new Float64Array(c);
  let pixels = 0;
  const rows = Array.from({ length: ds.n }, (_, i) => i);
  const batches = Array.from({ length: Math.ceil(ds.n / batchSize) }, (_, b) => rows.slice(b * batchSize, (b + 1) * batchSize));
  for await (const { x } of batchFeed(ds, batches)) {
    for (let k = 0; k < x.length; k++) {
      const v = x[k] as number;
      sums[k % c] = (sums[k % c] as number) + v;
      squares[k % c] = (squares[k % c] as number) + v * v;
    }
    pixels += x.length / c;
  }
  return channelStatsFromSums(pixels, Array.from(sums), Array.from(squares));
}
