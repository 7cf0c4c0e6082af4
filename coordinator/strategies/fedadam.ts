/** FedAdam (Reddi et al. 2021): Adam on the server, over the pseudo-gradient of streaming FedAvg. */
import { z } from 'zod';
import { adaptiveState, adaptiveStep, serverOptStrategy, type AdaptiveState } from './fedopt.js';
import { decay, defineStrategy, serverLr } from './params.js';

/** β1 0.9, β2 0.99, τ 1e-3 as in Reddi et al.; η 0.01 (tune it: the paper grid-searches η per task). */
export const FedAdamParamsSchema = z.object({
  lr: serverLr(0.01),
  beta1: decay(0.9),
  beta2: decay(0.99),
  tau: z.number().positive().max(10).default(1e-3),
});
export type FedAdamParams = z.output<typeof FedAdamParamsSchema>;

/**
 * One FedAdam step over one tensor: m ← β1·m + (1−β1)·Δ; v ← β2·v + (1−β2)·Δ²; x ← x + η·m/(√v + τ).
 * No bias correction, as in the paper. Updates `state` in place.
 * @example serverAdam(previous, delta, adaptiveState(previous.length, 1e-3), { lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 })
 */
export function serverAdam(previous: Float32Array, delta: Float64Array, state: AdaptiveState, p: FedAdamParams): Float32Array {
  return adaptiveStep(previous, delta, state, p, (v, d2) => p.beta2 * v + (1 - p.beta2) * d2);
}

/**
 * `fedadam`: streaming sample-weighted mean, then a server Adam step. State: m and v, 16 B/param, in memory.
 * @example const s = fedAdam.create({ lr: 0.01 });
 */
export const fedAdam = defineStrategy('fedadam', 'Adam on the server (Reddi et al. 2021)', FedAdamParamsSchema, (p) =>
  serverOptStrategy({
    name: 'fedadam',
    params: p,
    initState: (size) => adaptiveState(size, p.tau),
    stateSize: (s) => s.m.length,
    step: (previous, delta, state) => serverAdam(previous, delta, state, p),
  }),
);
