/** FedYogi (Reddi et al. 2021): Yogi on the server, over the pseudo-gradient of streaming FedAvg. */
import { z } from 'zod';
import { adaptiveState, adaptiveStep, serverOptStrategy, type AdaptiveState } from './fedopt.js';
import { decay, defineStrategy, serverLr } from './params.js';

/** β1 0.9, β2 0.99, τ 1e-3 as in Reddi et al.; η 0.01 (tune it: the paper grid-searches η per task). */
export const FedYogiParamsSchema = z.object({
  lr: serverLr(0.01),
  beta1: decay(0.9),
  beta2: decay(0.99),
  tau: z.number().positive().max(10).default(1e-3),
});
export type FedYogiParams = z.output<typeof FedYogiParamsSchema>;

/**
 * One FedYogi step over one tensor: m as in Adam; v ← v − (1−β2)·Δ²·sign(v − Δ²); x ← x + η·m/(√v + τ).
 * v only moves towards Δ², additively, so it grows more slowly than Adam's. Updates `state` in place.
 * @example serverYogi(previous, delta, adaptiveState(previous.length, 1e-3), { lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 })
 */
export function serverYogi(previous: Float32Array, delta: Float64Array, state: AdaptiveState, p: FedYogiParams): Float32Array {
  return adaptiveStep(previous, delta, state, p, (v, d2) => v - (1 - p.beta2) * d2 * Math.sign(v - d2));
}

/**
 * `fedyogi`: streaming sample-weighted mean, then a server Yogi step. State: m and v, 16 B/param, in memory.
 * @example const s = fedYogi.create({ lr: 0.01 });
 */
export const fedYogi = defineStrategy('fedyogi', 'Yogi on the server (Reddi et al. 2021)', FedYogiParamsSchema, (p) =>
  serverOptStrategy({
    name: 'fedyogi',
    params: p,
    initState: (size) => adaptiveState(size, p.tau),
    stateSize: (s) => s.m.length,
    step: (previous, delta, state) => serverYogi(previous, delta, state, p),
  }),
);
