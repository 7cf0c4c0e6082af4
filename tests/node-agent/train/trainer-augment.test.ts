/** The trainer's augmentation hook: applied to every training batch before it becomes a tensor, seeded, never to validation or evaluation. */
import { describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import type { Dataset } from '../../../node-agent/data/index.js';
import { evaluate, selectBackend, trainLocal } from '../../../node-agent/train/index.js';
import type { ModelSpec } from '../../../protocol/index.js';

const spec: ModelSpec = { arch: 'logreg', inputShape: [4], classes: ['a', 'b'] };
const data: Dataset = {
  x: Float32Array.from({ length: 40 * 4 }, (_, i) => (Math.floor(i / 4) % 2) + (i % 4) / 10),
  y: Int32Array.from({ length: 40 }, (_, i) => i % 2),
  n: 40,
  inputShape: [4],
  classes: ['a', 'b'],
};
const config = { localEpochs: 2, batchSize: 8, learningRate: 0.5 };

describe('trainLocal augmentBatch', () => {
  it("is called once per training batch with that batch's rows and a seed that differs by batch and epoch, and the same seed on a rerun", async () => {
    const { tf } = await selectBackend('cpu');
    const calls: { rows: number; seed: number }[][] = [[], []];
    for (const run of [0, 1]) {
      await trainLocal({
        tf,
        spec,
        weights: initialWeights(spec, 1),
        data,
        config,
        valFraction: 0.2,
        seed: 3,
        augmentBatch: (x, rows, seed) => void calls[run]?.push({ rows, seed }),
      });
    }
    // 32 training rows (8 held out for validation, not augmented) in batches of 8, 2 epochs
    expect(calls[0]?.map((c) => c.rows)).toEqual([8, 8, 8, 8, 8, 8, 8, 8]);
    expect(new Set(calls[0]?.map((c) => c.seed)).size).toBe(8);
    expect(calls[1]).toEqual(calls[0]);
  });

  it('trains on what the hook leaves: a hook that erases the inputs leaves nothing to learn from the features', async () => {
    const { tf } = await selectBackend('cpu');
    const plain = await trainLocal({ tf, spec, weights: initialWeights(spec, 1), data, config, valFraction: 0 });
    const erased = await trainLocal({
      tf,
      spec,
      weights: initialWeights(spec, 1),
      data,
      config,
      valFraction: 0,
      augmentBatch: (x) => x.fill(0),
    });
    const [p, e] = await Promise.all([plain, erased].map((r) => evaluate({ tf, spec, weights: r.weights, data })));
    expect(p?.accuracy).toBe(1);
    expect(e?.accuracy).toBeLessThan(0.75);
  });
});
