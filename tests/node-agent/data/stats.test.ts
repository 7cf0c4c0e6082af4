/** Feature statistics: per-site Welford stats pool (Chan) to exactly the stats of the pooled rows. */
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/prng.js';
import { featureStats, normalize, poolFeatureStats, selectRows, type Dataset } from '../../../node-agent/data/index.js';

function randomDataset(n: number, seed: number): Dataset {
  const rng = createPrng(seed);
  const x = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    x[i * 3] = 100 + 15 * rng.normal();
    x[i * 3 + 1] = rng.next() * 4 - 2;
    x[i * 3 + 2] = 7; // constant feature
  }
  return { x, y: new Int32Array(n), n, inputShape: [3], classes: ['a', 'b'] };
}

/** Two-pass population mean and std of each feature. */
function directStats(ds: Dataset): { mean: number[]; std: number[] } {
  const mean = [0, 1, 2].map((j) => Array.from({ length: ds.n }, (_, i) => ds.x[i * 3 + j] as number).reduce((a, b) => a + b, 0) / ds.n);
  const std = [0, 1, 2].map((j) => {
    const m = mean[j] as number;
    return Math.sqrt(Array.from({ length: ds.n }, (_, i) => ((ds.x[i * 3 + j] as number) - m) ** 2).reduce((a, b) => a + b, 0) / ds.n);
  });
  return { mean, std };
}

describe('featureStats + poolFeatureStats', () => {
  it('pooling three sites equals the stats of their pooled rows (constant feature gets std 1)', () => {
    const all = randomDataset(600, 1);
    const sites = [
      [0, 50],
      [50, 350],
      [350, 600],
    ].map(([a, b]) =>
      selectRows(
        all,
        Array.from({ length: (b as number) - (a as number) }, (_, i) => (a as number) + i),
      ),
    );

    const pooled = poolFeatureStats(sites.map(featureStats));
    const direct = directStats(all);

    pooled.mean.forEach((m, j) => expect(m).toBeCloseTo(direct.mean[j] as number, 9));
    expect(pooled.std[0]).toBeCloseTo(direct.std[0] as number, 9);
    expect(pooled.std[1]).toBeCloseTo(direct.std[1] as number, 9);
    expect(direct.std[2]).toBe(0);
    expect(pooled.std[2]).toBe(1);
  });

  it('featureStats gives count, mean and the sum of squared deviations', () => {
    const ds: Dataset = { x: Float32Array.from([1, 2, 3, 4]), y: new Int32Array(4), n: 4, inputShape: [1], classes: ['a', 'b'] };

    const s = featureStats(ds);

    expect(s).toEqual({ count: 4, mean: [2.5], m2: [5] });
  });
});

describe('normalize', () => {
  it('z-scores every feature to mean 0 and std 1 with the pooled stats', () => {
    const ds = randomDataset(400, 2);
    const norm = poolFeatureStats([featureStats(ds)]);

    const z = directStats(normalize(ds, norm));

    expect(z.mean[0]).toBeCloseTo(0, 4);
    expect(z.std[0]).toBeCloseTo(1, 4);
    expect(z.mean[2]).toBe(0);
  });

  it('rejects a normalization of the wrong width', () => {
    expect(() => normalize(randomDataset(2, 3), { mean: [0], std: [1] })).toThrow(/1 means and 1 stds, data has 3 features/);
  });
});
