/** FedAvgM, FedAdam, FedYogi, FedAdagrad and FedProx against hand-computed rounds; server state lives in the strategy object. */
import { describe, expect, it } from 'vitest';
import { createStrategy, fedAvg, type Strategy } from '../../../coordinator/strategies/index.js';

const f32 = (...values: number[]) => new Float32Array(values);

/** Runs one round: begin from `previous`, add `updates`, return the result. */
function round(strategy: Strategy, previous: Float32Array[], updates: [Float32Array[], number][]): Float32Array[] {
  const acc = strategy.begin(
    previous.map((t) => [t.length]),
    previous,
  );
  for (const [tensors, weight] of updates) acc.add(tensors, weight);
  return acc.result()!;
}

const close = (actual: Float32Array[], expected: number[][]) => {
  expect(actual.map((t) => t.length)).toEqual(expected.map((t) => t.length));
  actual.forEach((t, i) => t.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, 5)));
};

describe('FedAvgM', () => {
  it('applies server momentum 0.9 with server lr 1 over two rounds (hand-computed, weights 1:3 then 2:2)', () => {
    const strategy = createStrategy('fedavgm');
    const x0 = [f32(0, 1), f32(2)];

    // Round 1: mean = ([1, 1], [(1*2 + 3*6)/4 = 5]); Δ1 = ([1, 0], [3]); v1 = Δ1; x1 = x0 + v1 = ([1, 1], [5]).
    const x1 = round(strategy, x0, [
      [[f32(1, 1), f32(2)], 1],
      [[f32(1, 1), f32(6)], 3],
    ]);
    // Round 2: mean = ([1.5, 0], [5]); Δ2 = ([0.5, -1], [0]); v2 = 0.9*v1 + Δ2 = ([1.4, -1], [2.7]); x2 = x1 + v2.
    const x2 = round(strategy, x1, [
      [[f32(2, 0), f32(5)], 2],
      [[f32(1, 0), f32(5)], 2],
    ]);

    close(x1, [[1, 1], [5]]);
    close(x2, [[2.4, 0], [7.7]]);
    expect(strategy.params).toEqual({ lr: 1, momentum: 0.9 });
  });

  it('is FedAvg with momentum 0 and server lr 1', () => {
    const updates: [Float32Array[], number][] = [
      [[f32(1, 2), f32(3)], 1],
      [[f32(5, 6), f32(-1)], 3],
    ];
    const previous = [f32(0.5, 0.5), f32(0.5)];

    const m = round(createStrategy('fedavgm', { momentum: 0 }), previous, updates);
    const avg = round(fedAvg, previous, updates);

    close(
      m,
      avg.map((t) => [...t]),
    );
  });
});

describe('FedAdam', () => {
  it('takes two Adam steps without bias correction (hand-computed, β1 0.5, β2 0.75, τ 1, η 1)', () => {
    const strategy = createStrategy('fedadam', { lr: 1, beta1: 0.5, beta2: 0.75, tau: 1 });

    // v0 = τ² = 1. Round 1: Δ1 = [1, -1]; m1 = 0.5*Δ1 = [0.5, -0.5]; v1 = 0.75*1 + 0.25*1 = [1, 1];
    // x1 = m1 / (√v1 + τ) = [0.25, -0.25].
    const x1 = round(strategy, [f32(0, 0)], [[[f32(1, -1)], 1]]);
    // Round 2: Δ2 = [1, 0]; m2 = 0.5*m1 + 0.5*Δ2 = [0.75, -0.25]; v2 = 0.75*v1 + 0.25*Δ2² = [1, 0.75];
    // x2 = x1 + [0.75 / 2, -0.25 / (√0.75 + 1)] = [0.625, -0.25 - 0.133975] = [0.625, -0.383975].
    const x2 = round(strategy, x1, [[[f32(1.25, -0.25)], 1]]);

    close(x1, [[0.25, -0.25]]);
    close(x2, [[0.625, -0.383975]]);
  });

  it('barely moves from the previous model with a tiny server learning rate, where FedAvg moves by 1', () => {
    const previous = [f32(0.1, -0.2, 0.3), f32(0.5)];
    const updates: [Float32Array[], number][] = [
      [[f32(1.1, 0.8, 1.3), f32(1.5)], 10],
      [[f32(1.1, 0.8, 1.3), f32(1.5)], 20],
    ];

    const adam = round(createStrategy('fedadam', { lr: 1e-6 }), previous, updates);
    const avg = round(fedAvg, previous, updates);
    const moved = (r: Float32Array[]) => Math.max(...r.flatMap((t, i) => [...t].map((v, j) => Math.abs(v - previous[i]![j]!))));

    expect(moved(adam)).toBeLessThan(2e-6);
    expect(moved(avg)).toBeCloseTo(1, 5);
  });

  it('keeps its moments per strategy object: a fresh object starts over', () => {
    const params = { lr: 1, beta1: 0.5, beta2: 0.75, tau: 1 };
    const used = createStrategy('fedadam', params);
    const x1 = round(used, [f32(0, 0)], [[[f32(1, -1)], 1]]);

    const again = round(used, x1, [[[f32(1.25, -0.25)], 1]]);
    const fresh = round(createStrategy('fedadam', params), x1, [[[f32(1.25, -0.25)], 1]]);

    // Fresh: m = 0.5*[1, 0] = [0.5, 0]; v = [1, 0.75]; x = x1 + [0.5/2, 0] = [0.5, -0.25].
    close(fresh, [[0.5, -0.25]]);
    expect(again).not.toEqual(fresh);
  });
});

describe('FedYogi', () => {
  it('grows v additively and never shrinks it below Δ² (hand-computed, β1 0.5, β2 0.25, τ 0.5, η 1)', () => {
    const strategy = createStrategy('fedyogi', { lr: 1, beta1: 0.5, beta2: 0.25, tau: 0.5 });

    // v0 = τ² = 0.25. Round 1: Δ1 = [1, -1]; v1 = v0 - 0.75*Δ1²*sign(v0 - Δ1²) = 0.25 + 0.75 = [1, 1];
    // m1 = [0.5, -0.5]; x1 = m1 / (1 + 0.5) = [1/3, -1/3].
    const x1 = round(strategy, [f32(0, 0)], [[[f32(1, -1)], 1]]);
    // Round 2: Δ2 = [2, 0]; v2 = [1 + 0.75*4, 1 - 0.75*0*sign(1)] = [4, 1] (Adam would give [3.25, 0.25]);
    // m2 = 0.5*m1 + 0.5*Δ2 = [1.25, -0.25]; x2 = x1 + [1.25 / 2.5, -0.25 / 1.5] = [1/3 + 0.5, -1/3 - 1/6].
    const x2 = round(strategy, x1, [[[f32(1 / 3 + 2, -1 / 3)], 1]]);

    close(x1, [[1 / 3, -1 / 3]]);
    close(x2, [[1 / 3 + 0.5, -0.5]]);
  });
});

describe('FedAdagrad', () => {
  it('accumulates Δ² and has no momentum by default (hand-computed, τ 0.3, η 1)', () => {
    const strategy = createStrategy('fedadagrad', { lr: 1, tau: 0.3 });

    // v0 = 0.09. Round 1: Δ1 = [0.4, -0.4]; v1 = 0.09 + 0.16 = [0.25, 0.25]; m1 = Δ1 (β1 = 0);
    // x1 = Δ1 / (0.5 + 0.3) = [0.5, -0.5].
    const x1 = round(strategy, [f32(0, 0)], [[[f32(0.4, -0.4)], 3]]);
    // Round 2: Δ2 = [1.2, 0]; v2 = [0.25 + 1.44, 0.25] = [1.69, 0.25]; x2 = x1 + [1.2 / (1.3 + 0.3), 0] = [1.25, -0.5].
    const x2 = round(strategy, x1, [[[f32(1.7, -0.5)], 3]]);

    close(x1, [[0.5, -0.5]]);
    close(x2, [[1.25, -0.5]]);
    expect(strategy.params).toEqual({ lr: 1, beta1: 0, tau: 0.3 });
  });
});

describe('server optimizer rounds', () => {
  it('leave the state untouched by an empty round, and refuse updates once aggregated', () => {
    const strategy = createStrategy('fedavgm', { momentum: 0.5 });
    const empty = strategy.begin([[1]], [f32(0)]);
    expect(empty.result()).toBeNull();

    const acc = strategy.begin([[1]], [f32(0)]);
    acc.add([f32(2)], 1);
    const first = acc.result();

    // No momentum carried from the empty round: v1 = Δ1 = 2.
    expect(first).toEqual([f32(2)]);
    expect(acc.result()).toBe(first);
    expect(() => acc.add([f32(1)], 1)).toThrow(/already aggregated/);
  });

  it('refuse a model whose shapes differ from the one their state was made for', () => {
    const strategy = createStrategy('fedadam');
    round(strategy, [f32(0, 0)], [[[f32(1, 1)], 1]]);

    const acc = strategy.begin([[3]], [f32(0, 0, 0)]);
    acc.add([f32(1, 1, 1)], 1);

    expect(() => acc.result()).toThrow(/state was made for another model/);
  });
});

describe('FedProx (server side)', () => {
  it('aggregates exactly as FedAvg and asks the agents for its mu', () => {
    const updates: [Float32Array[], number][] = [
      [[f32(1, 2), f32(3)], 1],
      [[f32(5, 6), f32(-1)], 3],
    ];
    const previous = [f32(0, 0), f32(0)];
    const strategy = createStrategy('fedprox', { mu: 0.1 });

    const prox = round(strategy, previous, updates);
    const avg = round(fedAvg, previous, updates);

    expect(prox).toEqual(avg);
    expect(strategy.trainConfig).toEqual({ proximalMu: 0.1 });
    expect(createStrategy('fedprox').trainConfig).toEqual({ proximalMu: 0.01 });
    expect(fedAvg.trainConfig).toBeUndefined();
  });
});

describe('server steps that overflow', () => {
  it('fail the round with a clear message instead of publishing non-finite weights, and start over next round', () => {
    const strategy = createStrategy('fedavgm', { lr: 1000, momentum: 0 });
    const acc = strategy.begin([[1]], [f32(0)]);
    acc.add([f32(3e38)], 1);

    expect(() => acc.result()).toThrow('fedavgm: the server step produced non-finite weights; lower the server learning rate (lr 1000)');
    expect(round(strategy, [f32(0)], [[[f32(1e-3)], 1]])).toEqual([f32(1)]);
  });
});
