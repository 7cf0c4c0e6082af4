/**
 * The bound on each plain update's L2 distance from the global model it was trained from: what keeps one enrolled site
 * from moving the aggregate arbitrarily far (an update of 1e30s is finite, well-shaped and signed).
 */
import type { RoundRules } from '../config.js';

/** Without a bound in the rules: this many times the median update norm of the last round with enough updates. */
export const DEFAULT_NORM_FACTOR = 10;
/** Fewer accepted updates than this and the round's median could be one site's own norm: it is not recorded. */
export const MIN_UPDATES_FOR_MEDIAN = 3;
/** With no median yet (round 1, or after a restart before one was recorded): a root-mean-square change of 1 per weight. */
export const FIRST_ROUND_RMS = 1;

/** Where a round's bound comes from. */
export type BoundSource = 'dp-clip' | 'rules' | 'median' | 'first-round';

/** A round's bound on update norms, and why it is that. */
export interface NormBound {
  bound: number;
  source: BoundSource;
}

/**
 * The bound in force, strictest first: the DP clip norm (under DP every update must already be clipped to it; a
 * relative tolerance of 1e-4 absorbs float32 rounding), the rules' absolute `maxUpdateNorm`, else `updateNormFactor`
 * times the last recorded median (one site cannot move the median of three or more updates past the honest ones),
 * else FIRST_ROUND_RMS · sqrt(parameters).
 * @example normBound({ ...rules, maxUpdateNorm: 5 }, { parameters: 7850 }) // { bound: 5, source: 'rules' }
 */
export function normBound(rules: RoundRules, state: { parameters: number; dpClip?: number; lastMedian?: number }): NormBound {
  const candidates: NormBound[] = [];
  if (rules.dp && state.dpClip !== undefined) candidates.push({ bound: state.dpClip * (1 + 1e-4), source: 'dp-clip' });
  if (rules.maxUpdateNorm !== undefined) candidates.push({ bound: rules.maxUpdateNorm, source: 'rules' });
  if (candidates.length > 0) return candidates.reduce((a, b) => (b.bound < a.bound ? b : a));
  const factor = rules.updateNormFactor ?? DEFAULT_NORM_FACTOR;
  if (state.lastMedian !== undefined && state.lastMedian > 0) return { bound: factor * state.lastMedian, source: 'median' };
  return { bound: FIRST_ROUND_RMS * Math.sqrt(state.parameters), source: 'first-round' };
}

/**
 * The median of `norms` (mean of the two middle ones for an even count), or undefined for fewer than
 * MIN_UPDATES_FOR_MEDIAN: a median of one or two norms is a single site's to set.
 * @example roundMedian([1, 2, 100]) // 2
 */
export function roundMedian(norms: readonly number[]): number | undefined {
  if (norms.length < MIN_UPDATES_FOR_MEDIAN) return undefined;
  const sorted = [...norms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Tracks the accepted norms of the round in progress and the median the next round's default bound is made from. */
export class UpdateBound {
  private norms: number[] = [];

  constructor(
    private readonly rules: RoundRules,
    /** The last recorded median, read back from the round records after a restart. */
    private lastMedian?: number,
  ) {}

  /** The bound for the round in progress. */
  current(parameters: number, dpClip: number | undefined): NormBound {
    return normBound(this.rules, {
      parameters,
      ...(dpClip !== undefined ? { dpClip } : {}),
      ...(this.lastMedian !== undefined ? { lastMedian: this.lastMedian } : {}),
    });
  }

  /** A new round: forget the last round's norms. */
  reset(): void {
    this.norms = [];
  }

  /** One accepted update's norm. */
  observe(norm: number): void {
    this.norms.push(norm);
  }

  /**
   * Training closed: the round's median (recorded, and the next rounds' reference when there were enough updates).
   * @example const median = bound.close() // undefined with fewer than 3 accepted updates
   */
  close(): number | undefined {
    const median = roundMedian(this.norms);
    if (median !== undefined) this.lastMedian = median;
    return median;
  }
}
