/** Conv nets on wasm with Cohort's Conv2DBackpropFilter: every conv gradient agrees with the cpu backend's, and the CNN trains. */
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import { createPrng, type Prng } from '../../../crypto/prng.js';
import { loadMnist, mnistSpec, selectRows } from '../../../node-agent/data/index.js';
import { buildModel, getNamedWeights, selectBackend, setNamedWeights, trainLocal, type TF } from '../../../node-agent/train/index.js';
import { hasWasmGradKernels, registerWasmGradKernels, WASM_CONV_GRAD_KERNELS } from '../../../node-agent/train/wasm-grad-kernels.js';

/** Gradients must agree to |wasm - cpu| <= ATOL + RTOL * |cpu| element by element (float32 sums in another order). */
const ATOL = 1e-4;
const RTOL = 1e-4;

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
}

const between = (rng: Prng, lo: number, hi: number): number => lo + rng.int(hi - lo + 1);
const values = (rng: Prng, shape: number[]): Float32Array =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);

/** A random NHWC convolution whose output is at least 1x1: sizes 3-12, kernels 1-5, strides 1-3, every kind of padding. */
function randomCase(rng: Prng, i: number): ConvCase {
  const [h, w] = [between(rng, 3, 12), between(rng, 3, 12)];
  const [kh, kw] = [between(rng, 1, Math.min(5, h)), between(rng, 1, Math.min(5, w))];
  const c: ConvCase = {
    x: [between(rng, 1, 3), h, w, between(rng, 1, 4)],
    filter: [kh, kw, 0, between(rng, 1, 5)],
    strides: [between(rng, 1, 3), between(rng, 1, 3)],
    pad: 'same',
  };
  c.filter[2] = c.x[3];
  const kind = i % 5;
  if (kind === 1) c.pad = 'valid';
  if (kind === 2) {
    // a numeric pad: tfjs sizes the output from the filter's height and the height stride alone, so keep both square
    [c.pad, c.filter[1], c.strides[1], c.x[2]] = [between(rng, 0, 2), kh, c.strides[0], Math.max(w, kh)];
  }
  if (kind === 3) c.strides = [1, 1];
  if (kind === 4)
    c.pad = [
      [0, 0],
      [rng.int(3), rng.int(3)],
      [rng.int(3), rng.int(3)],
      [0, 0],
    ];
  return c;
}

/** Gradients of sum(dy * f(inputs)) on the given backend, as plain arrays; `dy` is drawn from `seed`. */
async function gradsOn(
  backend: 'wasm' | 'cpu',
  inputs: { shape: number[]; data: Float32Array }[],
  f: (tf: TF, ...xs: Tensor[]) => Tensor,
  seed: number,
): Promise<Float32Array[]> {
  const { tf } = await selectBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map((t) => tf.tensor(t.data, t.shape));
    const shape = f(tf, ...xs).shape;
    const dy = tf.tensor(values(createPrng(seed), shape), shape);
    return tf
      .grads((...args: Tensor[]) => f(tf, ...args))(xs, dy)
      .map((g) => g.dataSync() as Float32Array);
  });
}

/** The worst |a - b| / (ATOL + RTOL * |b|) over all elements: <= 1 means within tolerance. */
function worst(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++)
    m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)) / (ATOL + RTOL * Math.abs(b[i] as number)));
  return m;
}

async function expectSameGrads(
  inputs: { shape: number[]; data: Float32Array }[],
  f: (tf: TF, ...xs: Tensor[]) => Tensor,
  seed: number,
  label: string,
): Promise<void> {
  const wasm = await gradsOn('wasm', inputs, f, seed);
  const cpu = await gradsOn('cpu', inputs, f, seed);
  wasm.forEach((g, i) => expect(worst(g, cpu[i] as Float32Array), `${label}, gradient ${i}`).toBeLessThanOrEqual(1));
}

/** A stride-1 conv: input shape, filter shape, padding. */
type StrideOneCase = [number[], number[], Pad];

/** expectSameGrads for a stride-1 conv of random x and filter drawn from `rng`. */
async function expectSameStrideOneGrads(rng: Prng, [x, filter, pad]: StrideOneCase, seed: number): Promise<void> {
  const inputs = [
    { shape: x, data: values(rng, x) },
    { shape: filter, data: values(rng, filter) },
  ];
  const conv = (tf: TF, xs: Tensor, w: Tensor) => tf.conv2d(xs as Tensor4D, w as Tensor4D, 1, pad);
  await expectSameGrads(inputs, conv, seed, JSON.stringify({ x, filter, pad }));
}

describe('conv gradients on wasm', () => {
  it('give wasm every conv gradient kernel once selectBackend loads it, and registering again changes nothing', async () => {
    const { tf } = await selectBackend('wasm');
    const before = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    const input = tf.getKernel('Conv2DBackpropInput', 'wasm');

    registerWasmGradKernels(tf);

    expect(before).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(before);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(input); // Cohort's, registered once, not wrapped again
    expect(WASM_CONV_GRAD_KERNELS.filter((k) => !tf.getKernel(k, 'wasm'))).toEqual([]);
    expect(hasWasmGradKernels(tf)).toBe(true);
  });

  it("give conv2d the cpu backend's input and filter gradients on 30 random shapes, strides and paddings", async () => {
    const rng = createPrng(2026);
    for (let i = 0; i < 30; i++) {
      const c = randomCase(rng, i);
      const inputs = [
        { shape: c.x, data: values(rng, c.x) },
        { shape: c.filter, data: values(rng, c.filter) },
      ];
      const conv = (tf: TF, x: Tensor, w: Tensor) => tf.conv2d(x as Tensor4D, w as Tensor4D, c.strides, c.pad);

      await expectSameGrads(inputs, conv, i, JSON.stringify(c));
    }
  });

  it("give the cpu backend's filter gradient by im2col at stride 1 with few input channels (a conv net's first layer)", async () => {
    const rng = createPrng(7);
    for (const c of [
      [[3, 28, 28, 1], [5, 5, 1, 32], 'same'],
      [[2, 9, 7, 3], [3, 3, 3, 8], 'same'],
      [[1, 4, 6, 2], [5, 5, 2, 4], 'same'],
      [[2, 8, 6, 2], [3, 2, 2, 3], 'valid'],
      [
        [1, 7, 7, 3],
        [3, 3, 3, 2],
        [
          [0, 0],
          [2, 0],
          [1, 1],
          [0, 0],
        ],
      ],
    ] as StrideOneCase[])
      await expectSameStrideOneGrads(rng, c, 3);
  });

  it("give the cpu backend's filter gradient by Cohort's SIMD loop at stride 1 with even input and 16n output channels (the CNN's second conv)", async () => {
    // patches over 64 values (kh·kw·ci), so not the im2col route
    // A numeric pad with a non-square filter is left out: tfjs sizes that output from the filter's height alone, and
    // tfjs-backend-wasm 4.22's own forward Conv2D then writes past its output (as in the random cases above).
    const rng = createPrng(19);
    for (const c of [
      [[3, 14, 14, 32], [5, 5, 32, 64], 'same'],
      [[2, 7, 5, 8], [3, 3, 8, 16], 'valid'],
      [[1, 6, 9, 8], [3, 3, 8, 32], 1],
      [
        [2, 5, 6, 6],
        [4, 3, 6, 16],
        [
          [0, 0],
          [2, 0],
          [0, 1],
          [0, 0],
        ],
      ],
    ] as StrideOneCase[])
      await expectSameStrideOneGrads(rng, c, 5);
  });

  it("give the filter gradient by dy's shape when dimRoundingMode rounds the output up, as explicit extra padding would", async () => {
    // tfjs-core's conv2d gradient drops dimRoundingMode; the input gradient (wasm's and cpu's own kernels) is then off on every backend
    const rng = createPrng(11);
    const inputs = [
      { shape: [2, 5, 7, 2], data: values(rng, [2, 5, 7, 2]) },
      { shape: [2, 2, 2, 3], data: values(rng, [2, 2, 2, 3]) },
    ];
    const ceil = (tf: TF, x: Tensor, w: Tensor) => tf.conv2d(x as Tensor4D, w as Tensor4D, 2, 0, 'NHWC', 1, 'ceil');
    const explicit = (tf: TF, x: Tensor, w: Tensor) =>
      tf.conv2d(x as Tensor4D, w as Tensor4D, 2, [
        [0, 0],
        [0, 1],
        [0, 1],
        [0, 0],
      ]);

    const wasm = await gradsOn('wasm', inputs, ceil, 5);
    const cpu = await gradsOn('cpu', inputs, explicit, 5);

    expect(worst(wasm[1] as Float32Array, cpu[1] as Float32Array)).toBeLessThanOrEqual(1);
  });

  it('give the same gradients through a fused conv2d + bias + relu and max and average pools, as in the CNN', async () => {
    const rng = createPrng(7);
    for (const [pad, strides, pool] of [
      ['same', 1, 2],
      ['valid', 2, 3],
      ['same', 2, 2],
    ] as const) {
      const inputs = [
        { shape: [2, 11, 10, 3], data: values(rng, [2, 11, 10, 3]) },
        { shape: [5, 5, 3, 6], data: values(rng, [5, 5, 3, 6]) },
        { shape: [6], data: values(rng, [6]) },
      ];
      const layer = (tf: TF, x: Tensor, w: Tensor, b: Tensor) =>
        tf.tidy(() => {
          const y = tf.fused.conv2d({ x: x as Tensor4D, filter: w as Tensor4D, strides, pad, bias: b, activation: 'relu' });
          return tf.add(tf.maxPool(y, pool, pool, 'same'), tf.avgPool(y, pool, pool, 'same'));
        });

      await expectSameGrads(inputs, layer, 100, `fused ${pad} stride ${strides} pool ${pool}`);
    }
  });

  it('refuse NCHW with a clear error; dilated convolutions have no gradient in tfjs itself', async () => {
    const { tf } = await selectBackend('wasm');
    const x = tf.ones([1, 2, 6, 6]);
    const dy = tf.ones([1, 2, 4, 4]);
    const run = () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] });
    const dilated = () =>
      tf.grad((v: Tensor) => tf.conv2d(v as Tensor4D, tf.ones([2, 2, 1, 1]), 1, 'same', 'NHWC', 2))(tf.ones([1, 5, 5, 1]));

    expect(run).toThrow(/Conv2DBackpropFilter on wasm.*NCHW is not supported/);
    expect(dilated).toThrow(/dilation rates greater than 1/);
    tf.dispose([x, dy]);
  });

  it("make one SGD step of the McMahan CNN on wasm land where the cpu backend's does", async () => {
    const spec = mnistSpec('cnn');
    const start = initialWeights(spec, 3);
    const rows = selectRows(loadMnist(), [0, 1]);
    const step = async (backend: 'wasm' | 'cpu') => {
      const { tf } = await selectBackend(backend);
      const model = buildModel(tf, spec);
      setNamedWeights(model, start);
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
      const xs = tf.tensor(rows.x, [rows.n, 28, 28, 1]);
      const ys = tf.oneHot(tf.tensor1d(Array.from(rows.y), 'int32'), 10);
      await model.trainOnBatch(xs, ys);
      const after = getNamedWeights(model);
      tf.dispose([xs, ys]);
      model.dispose();
      return after;
    };

    const [wasm, cpu] = [await step('wasm'), await step('cpu')];

    wasm.forEach((t, i) => expect(worst(t.data, (cpu[i] as (typeof cpu)[number]).data), t.name).toBeLessThanOrEqual(1));
  });

  it('train the McMahan CNN on wasm: the loss falls over 3 epochs of 60 digits, and no tensor leaks', async () => {
    const { tf } = await selectBackend('wasm');
    const spec = mnistSpec('cnn');
    const data = selectRows(
      loadMnist(),
      Array.from({ length: 60 }, (_, i) => i * 97),
    );
    const losses: number[] = [];
    const tensorsBefore = tf.memory().numTensors;

    const result = await trainLocal({
      tf,
      spec,
      weights: initialWeights(spec, 1),
      data,
      config: { localEpochs: 3, batchSize: 10, learningRate: 0.05 },
      valFraction: 0,
      onEpoch: (_, l) => losses.push(l.loss),
    });

    expect(tf.getBackend()).toBe('wasm');
    expect(losses).toHaveLength(3);
    expect(losses[2]).toBeLessThan((losses[0] as number) * 0.8);
    expect(result.metrics.trainAccuracy).toBeGreaterThan(0.3);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
