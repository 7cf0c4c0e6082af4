/** Inference without TensorFlow.js in the coordinator: the plain-TypeScript forward pass agrees with TF.js on every architecture, and /predict serves it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, predict, rowsToInput } from '../../coordinator/models/index.js';
import { createPrng } from '../../crypto/index.js';
import { tensorLayout, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import { buildModel, getNamedWeights, selectBackend, setNamedWeights, type TF } from '../../node-agent/train/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { FED, SPEC, bearer, buildApiFixture, type ApiFixture } from './api-fixture.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await selectBackend('auto'));
});

/** Weights drawn so that biases are not zero (a zero bias would hide a bias bug). */
function randomWeights(spec: ModelSpec, seed: number): NamedTensor[] {
  const rng = createPrng(seed);
  return tensorLayout(spec).map((t) => {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const scale = t.name.endsWith('bias') ? 0.5 : Math.sqrt(2 / (t.shape.at(-2) ?? 1) / (t.shape.length === 4 ? (t.shape[0] as number) * (t.shape[1] as number) : 1));
    return { name: t.name, shape: t.shape, data: Float32Array.from({ length: size }, () => (rng.next() * 2 - 1) * scale) };
  });
}

/** TF.js's probabilities for the same weights and inputs. */
function tfPredict(spec: ModelSpec, weights: NamedTensor[], x: Float32Array, rows: number): Float32Array {
  const model = buildModel(tf, spec);
  setNamedWeights(model, weights);
  const input = tf.tensor(x, [rows, ...spec.inputShape]);
  const out = model.predict(input) as ReturnType<typeof tf.tensor>;
  const data = Float32Array.from(out.dataSync());
  input.dispose();
  out.dispose();
  model.dispose();
  return data;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('forward (pure TypeScript) against TF.js', () => {
  const cases: [string, ModelSpec, number][] = [
    ['logreg on MNIST', mnistSpec('logreg'), 6],
    ['the 2NN on MNIST', mnistSpec('mlp'), 6],
    ['an MLP on tabular features', SPEC, 20],
    ['a CNN on 12x12 images', { arch: 'cnn', inputShape: [12, 12, 1], classes: ['a', 'b', 'c'] }, 3],
    ['a CNN on 9x7x2 images (odd sizes)', { arch: 'cnn', inputShape: [9, 7, 2], classes: ['a', 'b'] }, 2],
  ];
  for (const [name, spec, rows] of cases) {
    it(`gives ${name} the probabilities TF.js gives (max abs difference < 1e-5)`, () => {
      const weights = randomWeights(spec, 11);
      const rng = createPrng(5);
      const width = spec.inputShape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: rows * width }, () => (rng.next() < 0.3 ? 0 : rng.next() * 2 - 0.5));

      const ours = forward(spec, weights, x, rows);
      const theirs = tfPredict(spec, weights, x, rows);

      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
      for (let r = 0; r < rows; r++) expect(ours.subarray(r * spec.classes.length, (r + 1) * spec.classes.length).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });
  }

  it('the comparison can fail: a perturbed weight moves the output beyond the tolerance', () => {
    const spec = SPEC;
    const weights = randomWeights(spec, 3);
    const x = Float32Array.from({ length: 9 }, (_, i) => i / 3 - 1);
    const theirs = tfPredict(spec, weights, x, 3);
    weights[1]!.data[0] = (weights[1]!.data[0] as number) + 0.01;

    expect(maxAbsDiff(forward(spec, weights, x, 3), theirs)).toBeGreaterThan(1e-5);
  });

  it('refuses weights that do not match the spec', () => {
    const weights = randomWeights(SPEC, 1).slice(1);

    expect(() => forward(SPEC, weights, new Float32Array(3), 1)).toThrow(/dense_0\/kernel/);
  });
});

describe('rowsToInput', () => {
  it('orders features by the spec, whatever the order of the keys, and applies the pooled z-score', () => {
    const x = rowsToInput(SPEC, [{ bmi: 30, age: 62, income: 33_000 }]);

    expect(Array.from(x)).toEqual([1, -1, 1].map((v) => Math.fround(v)));
  });

  it('takes MNIST rows as { pixels }', () => {
    const pixels = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);

    expect(Array.from(rowsToInput(mnistSpec('logreg'), [{ pixels }]))).toEqual(pixels.map(Math.fround));
    expect(() => rowsToInput(mnistSpec('logreg'), [{ pixels: [1, 2] }])).toThrow(/784/);
  });
});

describe('POST /api/federations/:id/models/:version/predict', () => {
  let fx: ApiFixture;
  beforeAll(() => {
    // Published weights come from TF.js models (Glorot kernels), with biases made non-zero.
    fx = buildApiFixture({
      weights: (v) => {
        const model = buildModel(tf, SPEC, { seed: 100 + v });
        const w = getNamedWeights(model).map((t) => (t.name.endsWith('bias') ? { ...t, data: t.data.map((_, i) => 0.1 * (i + 1) - 0.2 * v) } : t));
        model.dispose();
        return w;
      },
    });
  });
  afterAll(() => fx?.close());

  it('returns, for raw feature values by name, the probabilities TF.js gives after the federation\'s z-score', async () => {
    const rows = [
      { age: 71, income: 25_000, bmi: 31.5 },
      { income: 60_000, age: 35, bmi: 21 },
    ];

    const res = await fx.api().request(`/api/federations/${FED}/models/2/predict`, { method: 'POST', headers: { ...bearer(fx.tokens.site2), 'content-type': 'application/json' }, body: JSON.stringify({ rows }) });
    const body = (await res.json()) as { version: number; digest: string; classes: string[]; probabilities: number[][] };

    expect(res.status).toBe(200);
    const norm = SPEC.normalization!;
    const x = Float32Array.from(rows.flatMap((r) => SPEC.features!.map((name, j) => ((r as Record<string, number>)[name]! - norm.mean[j]!) / norm.std[j]!)));
    const expected = tfPredict(SPEC, fx.weights[2]!, x, 2);
    expect(body).toMatchObject({ version: 2, classes: ['high', 'low', 'mid'], digest: fx.store.getModel(FED, 2)!.digest });
    expect(maxAbsDiff(Float32Array.from(body.probabilities.flat()), expected)).toBeLessThan(1e-5);
    const v1 = (await (await fx.api().request(`/api/federations/${FED}/models/1/predict`, { method: 'POST', headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' }, body: JSON.stringify({ rows }) })).json()) as { probabilities: number[][] };
    expect(v1.probabilities).not.toEqual(body.probabilities);
  });

  it('serves predictions of a version only while its file matches its digest (500 CORRUPT_PAYLOAD otherwise)', async () => {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(fx.dir, fx.store.getModel(FED, 1)!.path);
    const original = readFileSync(file);
    const bad = Buffer.from(original);
    bad[60] = (bad[60] as number) ^ 0xff;
    writeFileSync(file, bad);
    try {
      const res = await fx.api().request(`/api/federations/${FED}/models/1/predict`, { method: 'POST', headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ age: 1, income: 1, bmi: 1 }] }) });
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('CORRUPT_PAYLOAD');
    } finally {
      writeFileSync(file, original);
    }
  });

  it('agrees with predict() called directly on the decoded model', () => {
    const out = predict({ digest: 'x', spec: SPEC, tensors: fx.weights[2]! }, [{ age: 50, income: 42_000, bmi: 26 }]);

    const expected = tfPredict(SPEC, fx.weights[2]!, new Float32Array(3), 1);
    expect(maxAbsDiff(Float32Array.from(out.probabilities[0]!), expected)).toBeLessThan(1e-5);
  });
});
