/**
 * The RDP accountant against published values. Each reference case names its source; "improved" is the conversion of
 * TF Privacy's current RdpAccountant (dp_accounting) and Opacus, "classic" the one of TF Privacy's older get_privacy_spent.
 */
import { describe, expect, it } from 'vitest';
import { logErfc } from '../../../crypto/dp/log-math.js';
import { computeRdp, DEFAULT_ORDERS, OPACUS_ORDERS } from '../../../crypto/dp/rdp.js';
import { epsilonFor, noiseFor, rdpToEpsilon } from '../../../crypto/dp/privacy-spent.js';

const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('log(erfc)', () => {
  it('matches tabulated erfc values and the asymptotic series far in the tail', () => {
    // erfc to 16 significant digits (multi-precision values, e.g. mpmath.erfc; erfc(1) = 0.1572992070502851306...)
    const table: [number, number][] = [
      [0, 1],
      [1, 0.15729920705028513],
      [2, 0.004677734981047266],
      [3, 2.209049699858544e-5],
      [10, 2.088487583762545e-45],
      [-1, 1.8427007929497148],
    ];
    for (const [x, erfc] of table) expect(Math.abs(logErfc(x) - Math.log(erfc)), `x = ${x}`).toBeLessThan(1e-13);
    // x = 100: erfc underflows; log erfc(x) = -x^2 - log(x sqrt(pi)) + log(1 - 1/(2x^2) + 3/(4x^4) - ...)
    const x = 100;
    expect(logErfc(x)).toBeCloseTo(-x * x - Math.log(x * Math.sqrt(Math.PI)) + Math.log(1 - 1 / (2 * x * x) + 3 / (4 * x ** 4)), 9);
    expect(logErfc(1.999999999)).toBeCloseTo(logErfc(2), 8);
  });
});

describe('RDP of the sampled Gaussian mechanism', () => {
  it('q = 1 is the Gaussian mechanism: exactly steps * alpha / (2 z^2) at every order', () => {
    for (const z of [0.5, 1.1, 4]) {
      const rdp = computeRdp({ q: 1, noiseMultiplier: z, steps: 7, orders: DEFAULT_ORDERS });
      rdp.forEach((r, i) => expect(relative(r, (7 * (DEFAULT_ORDERS[i] as number)) / (2 * z * z))).toBeLessThan(1e-15));
    }
  });

  it('q = 0 costs nothing and z = 0 is not private', () => {
    expect(computeRdp({ q: 0, noiseMultiplier: 1, steps: 100, orders: [2, 32] })).toEqual([0, 0]);
    expect(computeRdp({ q: 0.5, noiseMultiplier: 0, steps: 1, orders: [2] })).toEqual([Infinity]);
  });

  it('matches tensorflow/privacy rdp_accountant_test.py (test_compute_rdp_scalar, test_compute_rdp_sequence)', () => {
    // compute_rdp(0.1, 2, 10, 5) = 0.07737 (assertAlmostEqual places=5)
    expect(Math.abs((computeRdp({ q: 0.1, noiseMultiplier: 2, steps: 10, orders: [5] })[0] as number) - 0.07737)).toBeLessThan(5e-6);
    // compute_rdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, inf]) (delta=1e-5): fractional and integer orders
    const got = computeRdp({ q: 0.01, noiseMultiplier: 2.5, steps: 50, orders: [1.5, 2.5, 5, 50, 100, Infinity] });
    [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307].forEach((want, i) =>
      expect(Math.abs((got[i] as number) - want)).toBeLessThan(1e-5),
    );
    expect(got[5]).toBe(Infinity);
  });
});

describe('RDP to (epsilon, delta)', () => {
  it('matches tensorflow/privacy rdp_accountant_test.py test_get_privacy_spent_check_target_delta (improved conversion)', () => {
    // constant RDP 1.1 on orders 2..32 (pure DP): eps = 1.32783806176 at order 32
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    expect(rdpToEpsilon({ orders, rdp: orders.map(() => 1.1), delta: 1e-5 })).toEqual({
      epsilon: expect.closeTo(1.32783806176, 10),
      order: 32,
    });
    // Gaussian with z = 4.530877117, fine orders 1.001..99.999: eps = 1 at delta = 1e-6 (assertAlmostEqual, 7 places)
    const fine = Array.from({ length: 98999 }, (_, i) => 0.001 * (i + 1001));
    const rdp = computeRdp({ q: 1, noiseMultiplier: 4.530877117, steps: 1, orders: fine });
    expect(rdpToEpsilon({ orders: fine, rdp, delta: 1e-6 }).epsilon).toBeCloseTo(1, 7);
  });

  // tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py: compute_dp_sgd_privacy(n, batch, z, epochs, delta)
  // with q = batch / n, steps = ceil(epochs * n / batch) and the orders of compute_dp_sgd_privacy_lib.py (DEFAULT_ORDERS).
  // The current file expects the improved conversion; its 2019 version expected the classic one.
  const dpSgd = [
    { n: 60000, batch: 150, z: 1.3, epochs: 15, delta: 1e-5, improved: 0.7242234026109595, classic: 0.941870567, order: 19 },
    { n: 100000, batch: 100, z: 1.0, epochs: 30, delta: 1e-7, improved: 1.4154988495444845, classic: 1.70928734, order: 13 },
    { n: 100000000, batch: 1024, z: 0.1, epochs: 10, delta: 1e-7, improved: 5907982.31138195, classic: 5907984.81339406, order: 1.25 },
  ];
  it.each(dpSgd)('TF Privacy compute_dp_sgd_privacy(n=$n, batch=$batch, z=$z, epochs=$epochs, delta=$delta)', (c) => {
    const schedule = { q: c.batch / c.n, noiseMultiplier: c.z, steps: Math.ceil((c.epochs * c.n) / c.batch), delta: c.delta };

    const improved = epsilonFor(schedule);
    const classic = epsilonFor({ ...schedule, conversion: 'classic' });

    expect(relative(improved.epsilon, c.improved)).toBeLessThan(1e-8);
    expect(improved.order).toBe(c.order);
    expect(relative(classic.epsilon, c.classic)).toBeLessThan(1e-8);
    expect(classic.order).toBe(c.order);
  });

  it('reproduces the TF Privacy MNIST DP-SGD tutorial (classic conversion, 2 decimals)', () => {
    // tensorflow/privacy tutorials/README.md (2019): "compute_dp_sgd_privacy.py --N=60000 --batch_size=256 --noise_multiplier=1.1
    // --epochs=60 --delta=1e-5 ... satisfies differential privacy with eps = 3.01"
    const cli = epsilonFor({
      q: 256 / 60000,
      noiseMultiplier: 1.1,
      steps: Math.ceil((60 * 60000) / 256),
      delta: 1e-5,
      conversion: 'classic',
    });
    expect(Math.abs(cli.epsilon - 3.01)).toBeLessThan(0.005);
    // Same README, "Select Parameters" tables, computed by mnist_dpsgd_tutorial.py's compute_epsilon: orders [1.1..10.9] + 12..63
    // (= OPACUS_ORDERS), steps = epochs * (60000 // 256), delta = 1e-5. Older table: (1.3, 15) 1.19, (1.1, 60) 3.01, (0.7, 45) 7.10;
    // newer table: (1.12, 60) 2.92, (0.6, 30) 9.74, (1.2, 10) 1.20. Tolerance 1%.
    const table: [number, number, number][] = [
      [1.3, 15, 1.19],
      [1.1, 60, 3.01],
      [0.7, 45, 7.1],
      [1.12, 60, 2.92],
      [0.6, 30, 9.74],
      [1.2, 10, 1.2],
    ];
    for (const [z, epochs, eps] of table) {
      const got = epsilonFor({
        q: 256 / 60000,
        noiseMultiplier: z,
        steps: epochs * Math.floor(60000 / 256),
        delta: 1e-5,
        orders: OPACUS_ORDERS,
        conversion: 'classic',
      });
      expect(relative(got.epsilon, eps), `z=${z}, epochs=${epochs}`).toBeLessThan(0.01);
    }
  });

  it('matches Opacus accountants_test.py test_rdp_accountant: q = 0.04, z = 1.5, 2250 steps, delta = 1e-5 gives 7.32911117143', () => {
    // pytorch/opacus, opacus/tests/accountants_test.py; RDPAccountant.DEFAULT_ALPHAS; Balle et al. conversion (opacus/accountants/analysis/rdp.py)
    const got = epsilonFor({ q: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5, orders: OPACUS_ORDERS });

    expect(relative(got.epsilon, 7.32911117143)).toBeLessThan(1e-9);
  });

  it('the improved conversion is never worse than the classic one', () => {
    for (const [q, z, steps] of [
      [0.01, 1, 1000],
      [0.1, 0.8, 50],
      [1, 2, 10],
    ] as const) {
      const improved = epsilonFor({ q, noiseMultiplier: z, steps, delta: 1e-6 }).epsilon;
      const classic = epsilonFor({ q, noiseMultiplier: z, steps, delta: 1e-6, conversion: 'classic' }).epsilon;
      expect(improved).toBeLessThanOrEqual(classic);
    }
  });
});

describe('epsilonFor and noiseFor', () => {
  const schedule = { q: 0.05, steps: 400, delta: 1e-5 };

  it('is monotone: more steps or a higher sampling rate cost more epsilon, more noise costs less', () => {
    const eps = (z: number, steps = 400, q = 0.05) => epsilonFor({ ...schedule, q, steps, noiseMultiplier: z }).epsilon;

    expect(eps(1, 800)).toBeGreaterThan(eps(1, 400));
    expect(eps(1, 400, 0.1)).toBeGreaterThan(eps(1, 400, 0.05));
    expect(eps(1.5)).toBeLessThan(eps(1));
    expect(eps(3)).toBeLessThan(eps(1.5));
  });

  it('noiseFor inverts epsilonFor: the smallest noise multiplier that meets the target', () => {
    for (const target of [0.5, 2, 8]) {
      const z = noiseFor({ ...schedule, targetEpsilon: target });

      expect(epsilonFor({ ...schedule, noiseMultiplier: z }).epsilon).toBeLessThanOrEqual(target);
      expect(epsilonFor({ ...schedule, noiseMultiplier: z * (1 - 1e-4) }).epsilon).toBeGreaterThan(target);
    }
    const z0 = 1.3;
    const eps0 = epsilonFor({ ...schedule, noiseMultiplier: z0 }).epsilon;
    expect(relative(noiseFor({ ...schedule, targetEpsilon: eps0 }), z0)).toBeLessThan(1e-5);
  });

  it('refuses impossible inputs loudly', () => {
    expect(() => epsilonFor({ ...schedule, noiseMultiplier: 1, delta: 0 })).toThrow(RangeError);
    expect(() => epsilonFor({ ...schedule, noiseMultiplier: 1, q: 1.5 })).toThrow(RangeError);
    expect(() => computeRdp({ q: 0.1, noiseMultiplier: 1, steps: 1, orders: [1] })).toThrow(RangeError);
    expect(() => noiseFor({ ...schedule, targetEpsilon: 0 })).toThrow(RangeError);
  });
});
