/**
 * From RDP to (epsilon, delta), and the two questions asked of an accountant: epsilon for a schedule, noise for a budget.
 * Conversions: 'improved' (default) is Balle et al. 2020 / Canonne-Kamath-Steinke 2020 as used by TF Privacy's
 * dp_accounting RdpAccountant and Opacus: eps = rdp + log((alpha-1)/alpha) - (log(delta) + log(alpha))/(alpha-1);
 * 'classic' is Mironov 2017 Proposition 3: eps = rdp + log(1/delta)/(alpha-1). The improved one is never larger.
 */
import { computeRdp, DEFAULT_ORDERS } from './rdp.js';

export type RdpConversion = 'improved' | 'classic';

export interface PrivacySpent {
  epsilon: number;
  /** The RDP order at which the minimum was reached. */
  order: number;
}

function epsilonAtOrder(alpha: number, rdp: number, delta: number, conversion: RdpConversion): number {
  if (Number.isNaN(rdp)) return NaN;
  if (conversion === 'classic') return rdp - Math.log(delta) / (alpha - 1);
  // When delta^2 >= 1 - exp(-rdp) the KL bound delta <= sqrt(1 - exp(-KL)) already gives epsilon = 0 (dp_accounting).
  if (delta * delta + Math.expm1(-rdp) > 0) return 0;
  if (alpha <= 1.01) return Infinity; // the bound is numerically unstable as alpha -> 1 (and useless there)
  return rdp + Math.log1p(-1 / alpha) - Math.log(delta * alpha) / (alpha - 1);
}

/**
 * The smallest epsilon over the orders for the given delta, and the order that gives it.
 * @example rdpToEpsilon({ orders, rdp, delta: 1e-5 }) // { epsilon: 2.9, order: 14 }
 */
export function rdpToEpsilon(args: {
  orders: readonly number[];
  rdp: readonly number[];
  delta: number;
  conversion?: RdpConversion;
}): PrivacySpent {
  const { orders, rdp, delta } = args;
  const conversion = args.conversion ?? 'improved';
  if (orders.length !== rdp.length || orders.length === 0) throw new RangeError('orders and rdp must be non-empty and of the same length');
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${String(delta)}`);
  let best: PrivacySpent = { epsilon: Infinity, order: NaN };
  for (let i = 0; i < orders.length; i++) {
    const alpha = orders[i] as number;
    const r = rdp[i] as number;
    if (!(alpha > 1)) throw new RangeError(`every order must be > 1, got ${alpha}`);
    if (r < 0) throw new RangeError(`RDP cannot be negative, got ${r} at order ${alpha}`);
    const eps = epsilonAtOrder(alpha, r, delta, conversion);
    if (eps < best.epsilon) best = { epsilon: eps, order: alpha };
  }
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

export interface ScheduleArgs {
  /** Sampling rate per step (fraction of institutions, or of examples, selected each round). */
  q: number;
  steps: number;
  delta: number;
  orders?: readonly number[];
  conversion?: RdpConversion;
}

/**
 * (epsilon, delta) after `steps` rounds of the sampled Gaussian mechanism with this noise multiplier.
 * @example epsilonFor({ q: 256 / 60000, noiseMultiplier: 1.1, steps: 14063, delta: 1e-5 }).epsilon // ~2.9
 */
export function epsilonFor(args: ScheduleArgs & { noiseMultiplier: number }): PrivacySpent {
  const orders = args.orders ?? DEFAULT_ORDERS;
  const rdp = computeRdp({ q: args.q, noiseMultiplier: args.noiseMultiplier, steps: args.steps, orders });
  return rdpToEpsilon({ orders, rdp, delta: args.delta, conversion: args.conversion ?? 'improved' });
}

/**
 * The smallest noise multiplier (within relative `tolerance`) whose epsilon is at most `targetEpsilon`, by doubling then
 * bisection; epsilon decreases as noise grows. Throws a RangeError when no multiplier up to 1e6 reaches the target.
 * @example noiseFor({ q: 0.04, steps: 2250, delta: 1e-5, targetEpsilon: 8 }) // ~1.425
 */
export function noiseFor(args: ScheduleArgs & { targetEpsilon: number; tolerance?: number }): number {
  const { targetEpsilon } = args;
  const tolerance = args.tolerance ?? 1e-6;
  if (typeof targetEpsilon !== 'number' || !(targetEpsilon > 0) || !Number.isFinite(targetEpsilon))
    throw new RangeError(`targetEpsilon must be finite and > 0, got ${String(targetEpsilon)}`);
  if (!(tolerance > 0 && tolerance < 1)) throw new RangeError(`tolerance must be in (0, 1), got ${tolerance}`);
  const eps = (z: number) => epsilonFor({ ...args, noiseMultiplier: z }).epsilon;
  let low = 0;
  let high = 1;
  while (eps(high) > targetEpsilon) {
    low = high;
    high *= 2;
    if (high > 1e6) throw new RangeError(`no noise multiplier up to 1e6 reaches epsilon ${targetEpsilon}`);
  }
  while (high - low > tolerance * high) {
    const mid = (low + high) / 2;
    if (eps(mid) > targetEpsilon) low = mid;
    else high = mid;
  }
  return high;
}

/**
 * (epsilon, delta) after a sequence of sampled Gaussian steps that may differ in q and noise multiplier (a site's
 * ledger): RDP adds up order by order across the steps (composition), then converts once.
 * @example epsilonForSteps({ steps: [{ q: 1, noiseMultiplier: 2 }, { q: 1, noiseMultiplier: 2 }], delta: 1e-5 }).epsilon
 */
export function epsilonForSteps(args: {
  steps: readonly { q: number; noiseMultiplier: number }[];
  delta: number;
  orders?: readonly number[];
  conversion?: RdpConversion;
}): PrivacySpent {
  const orders = args.orders ?? DEFAULT_ORDERS;
  const total = orders.map(() => 0);
  for (const step of args.steps) {
    computeRdp({ q: step.q, noiseMultiplier: step.noiseMultiplier, steps: 1, orders }).forEach(
      (r, i) => (total[i] = (total[i] as number) + r),
    );
  }
  if (args.steps.length === 0) return { epsilon: 0, order: NaN };
  return rdpToEpsilon({ orders, rdp: total, delta: args.delta, conversion: args.conversion ?? 'improved' });
}
