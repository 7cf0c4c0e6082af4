/** FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution"): FedAvg with server momentum. */
import { z } from 'zod';
import { serverOptStrategy } from './fedopt.js';
import { decay, defineStrategy, serverLr } from './params.js';

/** Server learning rate 1 and momentum 0.9: Hsu et al.'s server momentum β = 0.9 with η = 1 (FedAvg when momentum is 0). */
export const FedAvgMParamsSchema = z.object({ lr: serverLr(1), momentum: decay(0.9) });
export type FedAvgMParams = z.output<typeof FedAvgMParamsSchema>;

/**
 * One FedAvgM server step over one tensor: v ← momentum·v + Δ; x ← x + lr·v. Updates `velocity` in place.
 * @example serverMomentum(new Float32Array([0]), new Float64Array([1]), new Float64Array(1), { lr: 1, momentum: 0.9 }) // [1]
 */
export function serverMomentum(previous: Float32Array, delta: Float64Array, velocity: Float64Array, p: FedAvgMParams): Float32Array {
  const out = new Float32Array(previous.length);
  for (let i = 0; i < out.length; i++) {
    const v = p.momentum * (velocity[i] as number) + (delta[i] as number);
    velocity[i] = v;
    out[i] = (previous[i] as number) + p.lr * v;
  }
  return out;
}

/**
 * `fedavgm`: sample-weighted streaming mean, then server momentum on Δ = mean − previous.
 * @example const s = fedAvgM.create({ momentum: 0.9 });
 */
export const fedAvgM = defineStrategy('fedavgm', 'FedAvg with server momentum (Hsu et al. 2019)', FedAvgMParamsSchema, (p) =>
  serverOptStrategy({
    name: 'fedavgm',
    params: p,
    initState: (size) => new Float64Array(size),
    stateSize: (velocity) => velocity.length,
    step: (previous, delta, velocity) => serverMomentum(previous, delta, velocity, p),
  }),
);
