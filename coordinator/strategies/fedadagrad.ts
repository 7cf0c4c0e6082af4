/** FedAdagrad (Reddi et al. 2021): Adagrad on the server, over the pseudo-gradient of streaming FedAvg. */
import { z } from 'zod';
import { adaptiveState, adaptiveStep, serverOptStrategy, type AdaptiveState } from './fedopt.js';
import { decay, defineStrategy, serverLr } from './params.js';

/** τ 1e-3 as in Reddi et al.; β1 0 (no momentum, as Adagrad and Flower's FedAdagrad); η 0.01 (tune it per task). */
export const FedAdagradParamsSchema = z.object({ lr: serverLr(0.01), beta1: decay(0), tau: z.number().positive().max(10).default(1e-3) });
export type FedAdagradParams = z.output<typeof FedAdagradParamsSchema>;

/**
 * One FedAdagrad step over one tensor: m ← β1·m + (1−β1)·Δ; v ← v + Δ²; x ← x + η·m/(√v + τ). Updates `state` in place.
 * @example serverAdagrad(previous, delta, adaptiveState(previous.length, 1e-3), { lr: 0.01, beta1: 0, tau: 1e-3 })
 */
export function serverAdagrad(previous: Float32Array, delta: Float64Array, state: AdaptiveState, p: FedAdagradParams): Float32Array {
  return adaptiveStep(previous, delta, state, p, (v, d2) => v + d2);
}

/**
 * `fedadagrad`: streaming sample-weighted mean, then a server Adagrad step. State: m and v, 16 B/param, in memory.
 * @example const s = fedAdagrad.create({ lr: 0.01 });
 */
export const fedAdagrad = defineStrategy('fedadagrad', 'Adagrad on the server (Reddi et al. 2021)', FedAdagradParamsSchema, (p) =>
  serverOptStrategy({
    name: 'fedadagrad',
    params: p,
    initState: (size) => adaptiveState(size, p.tau),
    stateSize: (s) => s.m.length,
    step: (previous, delta, state) => serverAdagrad(previous, delta, state, p),
  }),
);
