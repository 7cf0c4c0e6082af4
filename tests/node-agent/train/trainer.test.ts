/** Local training: it learns, leaks no tensors, keeps the event loop alive, and is reproducible on cpu. */
import { describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import { loadMnist, mnistSpec, selectRows, splitTrainTest, type Dataset } from '../../../node-agent/data/index.js';
import { evaluate, selectBackend, trainLocal } from '../../../node-agent/train/index.js';
import { nativeInstalled } from '../helpers.js';

/** ~1,000 training digits and ~1,000 other test digits, both stratified. */
function mnistSubsets(): { train: Dataset; test: Dataset } {
  const all = loadMnist();
  const { train } = splitTrainTest(all, 0.9, 11);
  const { test } = splitTrainTest(all, 0.1, 12);
  const trainSet = new Set(train);
  return {
    train: selectRows(all, train),
    test: selectRows(
      all,
      test.filter((row) => !trainSet.has(row)),
    ),
  };
}

const config = { localEpochs: 2, batchSize: 10, learningRate: 0.1 };

describe('trainLocal on the default backend', () => {
  it('lifts the 2NN from chance to >75% test accuracy on ~1,000 digits in 2 epochs, leaking no tensors', async () => {
    const { tf } = await selectBackend('auto');
    const { train, test } = mnistSubsets();
    const spec = mnistSpec('mlp');
    const start = initialWeights(spec, 1);
    const tensorsBefore = tf.memory().numTensors;
    const epochs: number[] = [];

    const untrained = await evaluate({ tf, spec, weights: start, data: test });
    const result = await trainLocal({ tf, spec, weights: start, data: train, config, seed: 5, onEpoch: (e) => epochs.push(e) });
    const trained = await evaluate({ tf, spec, weights: result.weights, data: test });

    expect(trained.accuracy).toBeGreaterThan(0.75);
    expect(trained.accuracy).toBeGreaterThan(untrained.accuracy + 0.3);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(epochs).toEqual([1, 2]);
    expect(train.n).toBe(999); // stratified: round(count * 0.1) per class
    expect(result.trainSamples).toBe(900);
    expect(result.metrics).toMatchObject({ epochs: 2, valSamples: 99 });
    expect(result.metrics.valAccuracy).toBeGreaterThan(0.6);
    expect(result.metrics.trainLoss).toBeLessThan(untrained.loss);
    expect(trained.predicted).toHaveLength(test.n);
  });

  it('yields to the event loop while training, so timers (and sockets) keep running', async () => {
    const { tf } = await selectBackend('auto');
    const spec = mnistSpec('logreg');
    const data = selectRows(
      loadMnist(),
      Array.from({ length: 300 }, (_, i) => i * 33),
    );
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);

    await trainLocal({ tf, spec, weights: initialWeights(spec, 2), data, config: { ...config, localEpochs: 1 }, valFraction: 0 });
    clearInterval(timer);

    expect(ticks).toBeGreaterThan(5);
  });

  it('applies the spec normalization before training and evaluation', async () => {
    const { tf } = await selectBackend('auto');
    const base = { arch: 'logreg' as const, inputShape: [1], classes: ['low', 'high'] };
    // Feature around 1000 with a 1-unit threshold: learnable in a few epochs only once z-scored.
    const x = Float32Array.from({ length: 200 }, (_, i) => 1000 + (i % 2 === 0 ? -1 : 1) * (0.2 + (i % 7) / 10));
    const data: Dataset = { x, y: Int32Array.from(x, (v) => (v > 1000 ? 1 : 0)), n: 200, inputShape: [1], classes: ['low', 'high'] };
    const spec = { ...base, normalization: { mean: [1000], std: [0.5] } };

    const result = await trainLocal({
      tf,
      spec,
      weights: initialWeights(spec, 3),
      data,
      config: { localEpochs: 3, batchSize: 10, learningRate: 0.5 },
      valFraction: 0,
    });
    const scored = await evaluate({ tf, spec, weights: result.weights, data });

    expect(scored.accuracy).toBe(1);
  });

  it('refuses data whose width or classes differ from the spec', async () => {
    const { tf } = await selectBackend('auto');
    const spec = mnistSpec('logreg');
    const narrow: Dataset = { x: new Float32Array(10), y: new Int32Array(2), n: 2, inputShape: [5], classes: spec.classes };
    const relabelled: Dataset = { ...selectRows(loadMnist(), [0, 1]), classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] };

    const wide = trainLocal({ tf, spec, weights: initialWeights(spec, 1), data: narrow, config });
    const renamed = evaluate({ tf, spec, weights: initialWeights(spec, 1), data: relabelled });

    await expect(wide).rejects.toThrow(/5 values, the model's input needs 784/);
    await expect(renamed).rejects.toThrow(/classes/);
  });

  it.runIf(!nativeInstalled('@tensorflow/tfjs-node') && !nativeInstalled('@tensorflow/tfjs-node-gpu'))(
    'trains a cnn on wasm, with the Conv2D gradient kernels Cohort registers there',
    async () => {
      const { tf, name } = await selectBackend('auto');
      const spec = mnistSpec('cnn');

      const result = await trainLocal({
        tf,
        spec,
        weights: initialWeights(spec, 1),
        data: selectRows(loadMnist(), [0, 1, 2]),
        config,
        valFraction: 0,
      });

      expect(name).toBe('wasm');
      expect(Number.isFinite(result.metrics.trainLoss)).toBe(true);
      expect(result.trainSamples).toBe(3);
    },
  );
});

describe('trainLocal on cpu', () => {
  it('gives bit-identical weights for the same seed and different weights for another seed', async () => {
    const { tf } = await selectBackend('cpu');
    const spec = mnistSpec('mlp');
    const data = selectRows(
      loadMnist(),
      Array.from({ length: 200 }, (_, i) => i * 50),
    );
    const start = initialWeights(spec, 4);
    const run = (seed: number) => trainLocal({ tf, spec, weights: start, data, config: { ...config, localEpochs: 1 }, seed });

    const [a, b, c] = [await run(9), await run(9), await run(10)];
    const bytes = (r: typeof a) => Buffer.concat(r.weights.map((t) => Buffer.from(t.data.buffer)));

    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(a.metrics.trainLoss).toBe(b.metrics.trainLoss);
    expect(bytes(a).equals(bytes(c))).toBe(false);
  });

  it('takes one SGD step of the cnn on two images, changing every tensor, leaking nothing', async () => {
    const { tf } = await selectBackend('cpu');
    const spec = mnistSpec('cnn');
    const start = initialWeights(spec, 5);
    const data = selectRows(loadMnist(), [0, 9999]);
    const tensorsBefore = tf.memory().numTensors;

    const result = await trainLocal({
      tf,
      spec,
      weights: start,
      data,
      config: { localEpochs: 1, batchSize: 2, learningRate: 0.05 },
      valFraction: 0,
    });

    expect(result.trainSamples).toBe(2);
    expect(result.weights.map((t) => t.name)).toEqual(start.map((t) => t.name));
    result.weights.forEach((t, i) => expect(t.data.some((v, j) => v !== start[i]?.data[j])).toBe(true));
    expect(Number.isFinite(result.metrics.trainLoss)).toBe(true);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
