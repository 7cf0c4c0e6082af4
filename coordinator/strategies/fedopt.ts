/** Server optimisation over FedAvg (Reddi et al. 2021, "Adaptive Federated Optimization"): the pseudo-gradient and the adaptive step. */
import { checkOpen } from './checks.js';
import { fedAvg } from './fedavg.js';
import type { Accumulator, Strategy } from './types.js';

/** One server step over one tensor: reads `previous` and `delta`, updates `state` in place, returns the new weights. */
export type ServerStep<S> = (previous: Float32Array, delta: Float64Array, state: S) => Float32Array;

/** Adam-family server state of one tensor: first moment m and second moment v. */
export interface AdaptiveState {
  m: Float64Array;
  v: Float64Array;
}

/** Parameters every adaptive step shares: server learning rate η, momentum β1, adaptivity τ. */
export interface AdaptiveParams {
  lr: number;
  beta1: number;
  tau: number;
}

/**
 * The pseudo-gradient Δ = mean − previous (Reddi et al., Algorithm 2), in float64.
 * @example pseudoGradient(new Float32Array([3]), new Float32Array([1])) // Float64Array [2]
 */
export function pseudoGradient(mean: Float32Array, previous: Float32Array): Float64Array {
  const delta = new Float64Array(mean.length);
  for (let i = 0; i < delta.length; i++) delta[i] = (mean[i] as number) - (previous[i] as number);
  return delta;
}

/**
 * Fresh adaptive state: m = 0 and v = τ² (Reddi et al. initialise v₋₁ ≥ τ²).
 * @example adaptiveState(3, 1e-3) // { m: [0, 0, 0], v: [1e-6, 1e-6, 1e-6] }
 */
export function adaptiveState(size: number, tau: number): AdaptiveState {
  return { m: new Float64Array(size), v: new Float64Array(size).fill(tau * tau) };
}

/**
 * The shared adaptive step of FedAdagrad, FedYogi and FedAdam, per coordinate:
 * m ← β1·m + (1 − β1)·Δ;  v ← secondMoment(v, Δ²);  x ← x + η·m / (√v + τ). Updates `state` in place.
 * @example adaptiveStep(prev, delta, state, { lr: 0.01, beta1: 0.9, tau: 1e-3 }, (v, d2) => v + d2) // FedAdagrad
 */
export function adaptiveStep(
  previous: Float32Array,
  delta: Float64Array,
  state: AdaptiveState,
  p: AdaptiveParams,
  secondMoment: (v: number, deltaSquared: number) => number,
): Float32Array {
  const { m, v } = state;
  const out = new Float32Array(previous.length);
  for (let i = 0; i < out.length; i++) {
    const d = delta[i] as number;
    const mi = p.beta1 * (m[i] as number) + (1 - p.beta1) * d;
    const vi = secondMoment(v[i] as number, d * d);
    m[i] = mi;
    v[i] = vi;
    out[i] = (previous[i] as number) + (p.lr * mi) / (Math.sqrt(vi) + p.tau);
  }
  return out;
}

/**
 * A strategy that averages the updates with streaming FedAvg (one model in float64), then applies a
 * server optimizer to Δ = mean − previous. The optimizer state (one `S` per tensor) is created at the
 * first aggregated round and lives in this object across rounds: in memory only, lost on restart.
 * Memory per round: the float64 sums (8 B/param), a copy of `previous` (4 B/param), the output (4 B/param), plus the state.
 * @example const s = serverOptStrategy({ name: 'fedavgm', params, initState: (n) => new Float64Array(n), step });
 */
export function serverOptStrategy<S>(opts: {
  name: string;
  params: Readonly<Record<string, number | string>>;
  initState: (size: number) => S;
  step: ServerStep<S>;
  stateSize: (state: S) => number;
}): Strategy {
  let state: S[] | undefined;
  return Object.freeze({
    name: opts.name,
    params: Object.freeze({ ...opts.params }),
    begin(shapes: number[][], previous: Float32Array[]): Accumulator {
      const mean = fedAvg.begin(shapes, previous); // checks `previous` against the shapes
      const base = previous.map((t) => t.slice());
      let result: Float32Array[] | undefined;
      return {
        add(tensors, weight) {
          checkOpen(result !== undefined);
          mean.add(tensors, weight);
        },
        get count() {
          return mean.count;
        },
        get totalWeight() {
          return mean.totalWeight;
        },
        result() {
          if (result) return result;
          const averaged = mean.result();
          if (!averaged) return null;
          const current = state ?? base.map((t) => opts.initState(t.length));
          const fits = current.length === base.length && current.every((s, t) => opts.stateSize(s) === (base[t] as Float32Array).length);
          if (!fits)
            throw new RangeError(`${opts.name}: the server optimizer state was made for another model; start a new strategy object`);
          const stepped = averaged.map((m, t) =>
            opts.step(base[t] as Float32Array, pseudoGradient(m, base[t] as Float32Array), current[t] as S),
          );
          state = current;
          if (!stepped.every((t) => t.every(Number.isFinite))) {
            state = undefined; // the steps updated it in place: start over rather than carry non-finite moments
            throw new RangeError(
              `${opts.name}: the server step produced non-finite weights; lower the server learning rate (lr ${String(opts.params.lr)})`,
            );
          }
          result = stepped;
          return result;
        },
      };
    },
  });
}
