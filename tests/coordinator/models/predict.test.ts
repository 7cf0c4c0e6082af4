/** Inference through the model runner (TF.js in a worker thread): it agrees with TF.js in-process on every architecture, survives a stuck worker, leaves the coordinator's thread free of TF.js, and /predict serves it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predict, rowsToInput } from '../../../coordinator/models/index.js';
import { createModelRunner } from '../../../node-agent/train/model-runner.js';
import { createPrng } from '../../../crypto/index.js';
import { tensorLayout, type ModelSpec, type NamedTensor } from '../../../protocol/index.js';
import { buildModel, getNamedWeights, selectBackend, setNamedWeights, type TF } from '../../../node-agent/train/index.js';
import { mnistSpec } from '../../../node-agent/data/index.js';
import { FED, SPEC, bearer, buildApiFixture, type ApiFixture } from '../http/api-fixture.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await selectBackend('auto'));
});

/** Weights drawn so that biases are not zero (a zero bias would hide a bias bug). */
function randomWeights(spec: ModelSpec, seed: number): NamedTensor[] {
  const rng = createPrng(seed);
  return tensorLayout(spec).map((t) => {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const scale = t.name.endsWith('bias')
      ? 0.5
      : Math.sqrt(2 / (t.shape.at(-2) ?? 1) / (t.shape.length === 4 ? (t.shape[0] as number) * (t.shape[1] as number) : 1));
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

describe('the model runner (TF.js in a worker thread) against TF.js in-process', () => {
  const runner = createModelRunner();
  afterAll(() => runner.close());
  const run = (spec: ModelSpec, tensors: NamedTensor[], x: Float32Array, rows: number, key = JSON.stringify(spec)) =>
    runner.predict({ key, spec, tensors, x, rows });

  const cases: [string, ModelSpec, number][] = [
    ['logreg on MNIST', mnistSpec('logreg'), 6],
    ['the 2NN on MNIST', mnistSpec('mlp'), 6],
    ['an MLP on tabular features', SPEC, 20],
    ['a CNN on 12x12 images', { arch: 'cnn', inputShape: [12, 12, 1], classes: ['a', 'b', 'c'] }, 3],
    ['a CNN on 9x7x2 images (odd sizes)', { arch: 'cnn', inputShape: [9, 7, 2], classes: ['a', 'b'] }, 2],
  ];
  for (const [name, spec, rows] of cases) {
    it(`gives ${name} the probabilities model.predict gives in-process (max abs difference < 1e-5)`, async () => {
      const weights = randomWeights(spec, 11);
      const rng = createPrng(5);
      const width = spec.inputShape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: rows * width }, () => (rng.next() < 0.3 ? 0 : rng.next() * 2 - 0.5));

      const ours = await run(spec, weights, x, rows);
      const theirs = tfPredict(spec, weights, x, rows);

      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
      for (let r = 0; r < rows; r++)
        expect(ours.subarray(r * spec.classes.length, (r + 1) * spec.classes.length).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });
  }

  it('the comparison can fail: a perturbed weight (under a new key: a new version) moves the output beyond the tolerance', async () => {
    const spec = SPEC;
    const weights = randomWeights(spec, 3);
    const x = Float32Array.from({ length: 9 }, (_, i) => i / 3 - 1);
    const theirs = tfPredict(spec, weights, x, 3);
    weights[1]!.data[0] = (weights[1]!.data[0] as number) + 0.01;

    expect(maxAbsDiff(await run(spec, weights, x, 3, 'perturbed'), theirs)).toBeGreaterThan(1e-5);
  });

  it('builds a model once per key: the same key serves the cached model, whatever tensors come with it', async () => {
    const spec = SPEC;
    const a = randomWeights(spec, 21);
    const b = randomWeights(spec, 22);
    const x = Float32Array.from({ length: 3 }, (_, i) => i - 1);

    const first = await run(spec, a, x, 1, 'cached');
    const again = await run(spec, b, x, 1, 'cached');
    const other = await run(spec, b, x, 1, 'cached-b');

    expect(Array.from(again)).toEqual(Array.from(first));
    expect(maxAbsDiff(other, tfPredict(spec, b, x, 1))).toBeLessThan(1e-5);
  });

  it('sends the tensors again for a model the worker evicted (least recently used beyond maxModels)', async () => {
    const small = createModelRunner({ maxModels: 1 });
    const [a, b] = [randomWeights(SPEC, 31), randomWeights(SPEC, 32)];
    const x = Float32Array.from({ length: 3 }, (_, i) => i - 1);
    try {
      await small.predict({ key: 'a', spec: SPEC, tensors: a, x, rows: 1 });
      await small.predict({ key: 'b', spec: SPEC, tensors: b, x, rows: 1 });
      const again = await small.predict({ key: 'a', spec: SPEC, tensors: a, x, rows: 1 });

      expect(maxAbsDiff(again, tfPredict(SPEC, a, x, 1))).toBeLessThan(1e-5);
    } finally {
      await small.close();
    }
  });

  it('predict() answers NON_FINITE naming the row whose logits overflow float32 (its output is not a number)', async () => {
    const spec: ModelSpec = { arch: 'logreg', inputShape: [2], classes: ['a', 'b', 'c'] };
    const tensors: NamedTensor[] = [
      { name: 'dense_0/kernel', shape: [2, 3], data: Float32Array.from([3e38, 0, 0, 3e38, 0, 0]) },
      { name: 'dense_0/bias', shape: [3], data: new Float32Array(3) },
    ];

    const ok = await predict(runner, { key: 'huge', digest: 'huge', spec, tensors }, [{ pixels: [0.5, 0] }]); // logit 1.5e38: finite
    const nan = predict(runner, { key: 'huge', digest: 'huge', spec, tensors }, [{ pixels: [0.5, 0] }, { pixels: [1, 1] }]); // 6e38: Infinity

    expect(ok.probabilities).toEqual([[1, 0, 0]]);
    await expect(nan).rejects.toMatchObject({
      code: 'NON_FINITE',
      message: expect.stringMatching(/^rows\[1\]: the model's output is not a number/),
    });
  });

  it('refuses tensors that do not fit the spec with CORRUPT_PAYLOAD naming the tensor, and keeps serving', async () => {
    const weights = randomWeights(SPEC, 1).slice(1);

    await expect(run(SPEC, weights, new Float32Array(3), 1, 'short')).rejects.toMatchObject({
      code: 'CORRUPT_PAYLOAD',
      message: expect.stringContaining('dense_0/kernel'),
    });
    expect(await run(SPEC, randomWeights(SPEC, 1), new Float32Array(3), 1, 'whole')).toHaveLength(3);
  });
});

describe('a worker that fails', () => {
  it('fails a request that overruns its time limit with MODEL_RUNNER_FAILED, and the next request gets a new worker', async () => {
    const runner = createModelRunner({ backend: 'cpu', timeoutMs: 1000 });
    const cnn = mnistSpec('cnn');
    const slow = { key: 'slow', spec: cnn, tensors: randomWeights(cnn, 1), x: new Float32Array(2048 * 784).fill(0.5), rows: 2048 }; // ~60 G multiply-adds on the cpu backend
    const small = mnistSpec('logreg');
    try {
      const failed = await runner.predict(slow).then(
        () => null,
        (e: unknown) => e,
      );
      const after = await runner.predict({
        key: 'after',
        spec: small,
        tensors: randomWeights(small, 2),
        x: new Float32Array(784),
        rows: 1,
      });

      expect(failed).toMatchObject({
        code: 'MODEL_RUNNER_FAILED',
        message: expect.stringMatching(/did not answer within 1000 ms.*next one starts a new worker/),
      });
      expect(after).toHaveLength(10);
    } finally {
      await runner.close();
    }
  });
});

describe('the coordinator process', () => {
  it('serves a prediction without loading TF.js itself (no TF.js engine in its global scope)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const script = `
      const { predict } = await import('./coordinator/models/index.ts');
      const { initialWeights } = await import('./coordinator/models/index.ts');
      const { createModelRunner } = await import('./node-agent/train/model-runner.ts');
      const spec = { arch: 'logreg', inputShape: [2], classes: ['a', 'b'] };
      const runner = createModelRunner();
      const out = await predict(runner, { digest: 'd', spec, tensors: initialWeights(spec, 1) }, [{ pixels: [0.5, 0.25] }]);
      await runner.close();
      console.log(JSON.stringify({ p: out.probabilities[0], engine: typeof globalThis._tfengine, tf: typeof globalThis.tf }));`;

    const out = JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
        .trim()
        .split('\n')
        .at(-1)!,
    ) as { p: number[]; engine: string };

    expect(out.p).toHaveLength(2);
    expect(out.p[0]! + out.p[1]!).toBeCloseTo(1, 5);
    expect(out.engine).toBe('undefined');
  });

  it('proves the check can fail: a process that loads TF.js has the engine global', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "await import('@tensorflow/tfjs'); console.log(typeof globalThis._tfengine)"],
      { encoding: 'utf8' },
    );

    expect(out.trim().split('\n').at(-1)).toBe('object');
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

  it("applies an image spec's pooled per-channel normalisation to { pixels }, channels interleaved", () => {
    const spec: ModelSpec = {
      arch: 'logreg',
      inputShape: [6],
      classes: ['a', 'b'],
      channelNormalization: { source: 'pooled', mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2] },
    };

    const x = rowsToInput(spec, [{ pixels: [1, 0.5, 1, 0, 0.25, 0] }]);

    expect(Array.from(x)).toEqual([1, 1, 0.5, -1, 0, 0]);
  });

  it("refuses a feature beyond the model's range, naming the row, the feature and its index, and a pixel outside [0, 1]", () => {
    const at = (bmi: number) => () =>
      rowsToInput(SPEC, [
        { age: 50, income: 42_000, bmi: 26 },
        { age: 50, income: 42_000, bmi },
      ]);
    const pixels = Array.from({ length: 784 }, (_, i) => (i === 9 ? 255 : 0.5));

    expect(at(1e300)).toThrow(/^rows\[1\]: feature "bmi" \(index 2\) is 1e\+300, outside what this model takes: \[-3999974, 4000026\]/);
    expect(at(-5e6)).toThrow(/feature "bmi" \(index 2\)/);
    expect(at(4_000_000)).not.toThrow(); // within a million standard deviations: extreme, still taken
    expect(() => rowsToInput(mnistSpec('logreg'), [{ pixels }])).toThrow(/^rows\[0\]: pixels\[9\] is 255, outside \[0, 1\]/);
  });
});

describe('POST /api/federations/:id/models/:version/predict', () => {
  let fx: ApiFixture;
  beforeAll(() => {
    // Published weights come from TF.js models (Glorot kernels), with biases made non-zero.
    fx = buildApiFixture({
      weights: (v) => {
        const model = buildModel(tf, SPEC, { seed: 100 + v });
        const w = getNamedWeights(model).map((t) =>
          t.name.endsWith('bias') ? { ...t, data: t.data.map((_, i) => 0.1 * (i + 1) - 0.2 * v) } : t,
        );
        model.dispose();
        return w;
      },
    });
  });
  afterAll(() => fx?.close());

  it("returns, for raw feature values by name, the probabilities TF.js gives after the federation's z-score", async () => {
    const rows = [
      { age: 71, income: 25_000, bmi: 31.5 },
      { income: 60_000, age: 35, bmi: 21 },
    ];

    const res = await fx.api().request(`/api/federations/${FED}/models/2/predict`, {
      method: 'POST',
      headers: { ...bearer(fx.tokens.site2), 'content-type': 'application/json' },
      body: JSON.stringify({ rows }),
    });
    const body = (await res.json()) as { version: number; digest: string; classes: string[]; probabilities: number[][] };

    expect(res.status).toBe(200);
    const norm = SPEC.normalization!;
    const x = Float32Array.from(
      rows.flatMap((r) => SPEC.features!.map((name, j) => ((r as Record<string, number>)[name]! - norm.mean[j]!) / norm.std[j]!)),
    );
    const expected = tfPredict(SPEC, fx.weights[2]!, x, 2);
    expect(body).toMatchObject({ version: 2, classes: ['high', 'low', 'mid'], digest: fx.store.getModel(FED, 2)!.digest });
    expect(maxAbsDiff(Float32Array.from(body.probabilities.flat()), expected)).toBeLessThan(1e-5);
    const v1 = (await (
      await fx.api().request(`/api/federations/${FED}/models/1/predict`, {
        method: 'POST',
        headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ rows }),
      })
    ).json()) as { probabilities: number[][] };
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
      const res = await fx.api().request(`/api/federations/${FED}/models/1/predict`, {
        method: 'POST',
        headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ rows: [{ age: 1, income: 1, bmi: 1 }] }),
      });
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('CORRUPT_PAYLOAD');
    } finally {
      writeFileSync(file, original);
    }
  });

  it('answers 400 BAD_REQUEST naming the feature for an absurd value (it returned null probabilities), and finite probabilities at the edge of the range', async () => {
    const post = (rows: unknown) =>
      fx.api().request(`/api/federations/${FED}/models/2/predict`, {
        method: 'POST',
        headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ rows }),
      });

    const absurd = await post([{ age: 1e300, income: 42_000, bmi: 26 }]);
    const edge = await post([{ age: 50 + 12e6, income: 42_000 - 9e9, bmi: 26 }]);

    expect(absurd.status).toBe(400);
    expect(((await absurd.json()) as { error: unknown }).error).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/^rows\[0\]: feature "age" \(index 0\) is 1e\+300/),
    });
    expect(edge.status).toBe(200);
    const p = ((await edge.json()) as { probabilities: number[][] }).probabilities[0]!;
    expect(p.every((v) => Number.isFinite(v))).toBe(true);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('agrees with predict() called directly on the decoded model', async () => {
    const out = await predict(fx.runner, { digest: 'x', spec: SPEC, tensors: fx.weights[2]! }, [{ age: 50, income: 42_000, bmi: 26 }]);

    const expected = tfPredict(SPEC, fx.weights[2]!, new Float32Array(3), 1);
    expect(maxAbsDiff(Float32Array.from(out.probabilities[0]!), expected)).toBeLessThan(1e-5);
  });

  it('answers 503 MODEL_RUNNER_FAILED and audits it when the worker fails (here: it cannot load a backend within 1 ms), and keeps serving', async () => {
    const failing = createModelRunner({ startTimeoutMs: 1 });
    const post = (api: ReturnType<ApiFixture['api']>) =>
      api.request(`/api/federations/${FED}/models/2/predict`, {
        method: 'POST',
        headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ rows: [{ age: 50, income: 42_000, bmi: 26 }] }),
      });

    const res = await post(fx.api({ modelRunner: failing }));
    const next = await post(fx.api());
    await failing.close();

    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({
      code: 'MODEL_RUNNER_FAILED',
      message: expect.stringContaining('did not load its TF.js backend within 1 ms'),
    });
    expect(
      fx.store
        .listAudit({ federationId: FED })
        .filter((e) => e.kind === 'model.runner.failed')
        .at(-1),
    ).toMatchObject({ subject: 'model:2', data: { version: 2 } });
    expect(next.status).toBe(200);
  });

  it('answers 503 MODEL_RUNNER_UNAVAILABLE when the coordinator has no model runner, after checking the rows', async () => {
    const post = (rows: unknown) =>
      fx.api({ modelRunner: undefined }).request(`/api/federations/${FED}/models/2/predict`, {
        method: 'POST',
        headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ rows }),
      });

    const none = await post([{ age: 50, income: 42_000, bmi: 26 }]);
    const bad = await post([{ age: 1e300, income: 42_000, bmi: 26 }]);

    expect(none.status).toBe(503);
    expect(((await none.json()) as { error: unknown }).error).toMatchObject({
      code: 'MODEL_RUNNER_UNAVAILABLE',
      message: expect.stringContaining('model runner'),
    });
    expect(bad.status).toBe(400);
  });
});
