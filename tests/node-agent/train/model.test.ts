/** The tfjs model of a spec: weight names and shapes equal tensorLayout, weights move in and out intact. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import type { NamedTensor } from '../../../protocol/codec.js';
import { parameterCount, tensorLayout } from '../../../protocol/model-spec.js';
import { mnistSpec } from '../../../node-agent/data/index.js';
import { buildModel, getNamedWeights, selectBackend, setNamedWeights, type TF } from '../../../node-agent/train/index.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await selectBackend('auto'));
});

describe('buildModel', () => {
  it('gives the 2NN exactly the named weights and shapes of tensorLayout, in order', () => {
    const spec = mnistSpec('mlp');

    const model = buildModel(tf, spec);
    const weights = getNamedWeights(model);
    model.dispose();

    expect(weights.map((w) => ({ name: w.name, shape: w.shape }))).toEqual(tensorLayout(spec));
    expect(tensorLayout(spec).map((t) => t.name)).toEqual([
      'dense_0/kernel',
      'dense_0/bias',
      'dense_1/kernel',
      'dense_1/bias',
      'dense_2/kernel',
      'dense_2/bias',
    ]);
    weights.forEach((w) => expect(w.data.length).toBe(w.shape.reduce((a, b) => a * b, 1)));
  });

  it('keeps the layout names when a second model is built in the same process', () => {
    const spec = mnistSpec('logreg');
    const first = buildModel(tf, spec);

    const second = buildModel(tf, spec);
    const names = getNamedWeights(second).map((w) => w.name);
    first.dispose();
    second.dispose();

    expect(names).toEqual(['dense_0/kernel', 'dense_0/bias']);
  });

  it('builds the cnn with 1,663,370 parameters named as tensorLayout', () => {
    const spec = mnistSpec('cnn');

    const model = buildModel(tf, spec);
    const count = model.countParams();
    const layout = model.weights.map((w) => ({ name: w.originalName, shape: w.shape }));
    model.dispose();

    expect(count).toBe(1_663_370);
    expect(parameterCount(spec)).toBe(1_663_370);
    expect(layout).toEqual(tensorLayout(spec));
  });

  it('initialises reproducibly for a seed', () => {
    const spec = mnistSpec('logreg');

    const [a, b, c] = [1, 1, 2].map((seed) => {
      const model = buildModel(tf, spec, { seed });
      const w = getNamedWeights(model);
      model.dispose();
      return w[0]?.data;
    });

    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('setNamedWeights / getNamedWeights', () => {
  it('round-trips the coordinator initial weights exactly, in any order, without leaking tensors', () => {
    const spec = mnistSpec('mlp');
    const initial = initialWeights(spec, 7);
    const model = buildModel(tf, spec);
    const before = tf.memory().numTensors;

    setNamedWeights(model, [...initial].reverse());
    const back = getNamedWeights(model);
    const after = tf.memory().numTensors;
    model.dispose();

    expect(back.map((t) => [t.name, t.shape])).toEqual(initial.map((t) => [t.name, t.shape]));
    back.forEach((t, i) => expect(Buffer.from(t.data.buffer).equals(Buffer.from((initial[i] as NamedTensor).data.buffer))).toBe(true));
    expect(after).toBe(before);
  });

  it('copies: changing the returned or given arrays does not change the model', () => {
    const spec = mnistSpec('logreg');
    const model = buildModel(tf, spec);
    const given = initialWeights(spec, 1);
    setNamedWeights(model, given);

    const out = getNamedWeights(model);
    (given[0] as NamedTensor).data[0] = 99;
    (out[0] as NamedTensor).data[1] = 99;
    const again = getNamedWeights(model);
    model.dispose();

    expect(again[0]?.data[0]).not.toBe(99);
    expect(again[0]?.data[1]).not.toBe(99);
  });

  it('rejects missing, unexpected and misshapen tensors with the names in the message', () => {
    const spec = mnistSpec('logreg');
    const model = buildModel(tf, spec);
    const good = initialWeights(spec, 1);
    const [kernel, bias] = good as [NamedTensor, NamedTensor];

    const missing = () => setNamedWeights(model, [kernel]);
    const extra = () => setNamedWeights(model, [...good, { name: 'dense_9/bias', shape: [1], data: new Float32Array(1) }]);
    const misshapen = () => setNamedWeights(model, [kernel, { ...bias, shape: [11], data: new Float32Array(11) }]);
    const duplicated = () => setNamedWeights(model, [kernel, bias, bias]);

    expect(missing).toThrow(/missing \[dense_0\/bias\]/);
    expect(extra).toThrow(/unexpected \[dense_9\/bias\]/);
    expect(misshapen).toThrow(/dense_0\/bias: the model needs shape \[10\], got \[11\]/);
    expect(duplicated).toThrow(/duplicated/);
    model.dispose();
  });
});
