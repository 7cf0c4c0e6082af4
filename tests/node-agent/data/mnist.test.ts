/** The MNIST loader (the 10,000 digits of the `mnist` package) and its stratified train/test split. */
import { describe, expect, it } from 'vitest';
import { labelHistogram, loadMnist, mnistSpec, selectRows, splitTrainTest } from '../../../node-agent/data/index.js';

const COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

describe('loadMnist', () => {
  it('loads all 10,000 digits with the known per-digit counts, pixels in [0, 1]', () => {
    const ds = loadMnist();

    expect(ds.n).toBe(10_000);
    expect(ds.x).toHaveLength(10_000 * 784);
    expect(ds.inputShape).toEqual([784]);
    expect(ds.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(labelHistogram(ds)).toEqual(COUNTS);
    expect(ds.x.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(ds.y[0]).toBe(0);
    expect(ds.y[9999]).toBe(9);
  });

  it('is cached per process', () => {
    expect(loadMnist()).toBe(loadMnist());
  });
});

describe('mnistSpec', () => {
  it('gives logreg and the 2NN a flat input and the cnn a 28x28x1 image', () => {
    expect(mnistSpec('logreg')).toMatchObject({ arch: 'logreg', inputShape: [784] });
    expect(mnistSpec('mlp')).toMatchObject({ arch: 'mlp', inputShape: [784], hidden: [200, 200] });
    expect(mnistSpec('cnn')).toMatchObject({ arch: 'cnn', inputShape: [28, 28, 1] });
  });
});

describe('splitTrainTest', () => {
  it('holds out round(count * fraction) of every class, disjoint and covering every row', () => {
    const ds = loadMnist();

    const { train, test } = splitTrainTest(ds, 0.2, 3);

    expect(labelHistogram(selectRows(ds, test))).toEqual(COUNTS.map((c) => Math.round(c * 0.2)));
    expect(new Set([...train, ...test]).size).toBe(10_000);
    expect(train.length + test.length).toBe(10_000);
  });

  it('is the same for a seed and different for another seed', () => {
    const ds = loadMnist();

    const [a, b, c] = [1, 1, 2].map((seed) => splitTrainTest(ds, 0.1, seed));

    expect(a).toEqual(b);
    expect(a?.test).not.toEqual(c?.test);
  });

  it('rejects a fraction outside [0, 1]', () => {
    expect(() => splitTrainTest(loadMnist(), 1.5, 1)).toThrow(/testFraction/);
  });
});
