/**
 * The DP clip norm of each round. Fixed unless adaptive clipping is on (Andrew et al. 2021): then the sites report
 * whether their update was within the norm, and the norm moves geometrically toward the target quantile of update norms.
 */
import { dp } from '../../crypto/index.js';
import type { RoundRules } from '../config.js';

/** Tracks the clip norm across rounds; resumes from the last round's recorded next norm after a restart. */
export class ClipNorm {
  private norm: number;
  private below = 0;
  private reports = 0;

  constructor(
    private readonly rules: RoundRules,
    resumeFrom?: number,
  ) {
    this.norm = resumeFrom ?? rules.dp?.clipNorm ?? 0;
  }

  /** The clip norm sites use this round. */
  get current(): number {
    return this.norm;
  }

  get adaptive(): boolean {
    return this.rules.dp !== undefined && this.rules.adaptiveClip !== undefined;
  }

  /** The noise multiplier applied to the update sum: under adaptive clipping part of the budget pays for the noised count. */
  get updateNoiseMultiplier(): number | undefined {
    const { dp: settings, adaptiveClip } = this.rules;
    if (!settings) return undefined;
    if (!adaptiveClip) return settings.noiseMultiplier;
    return dp.updateNoiseMultiplier({
      noiseMultiplier: settings.noiseMultiplier,
      countNoiseStd: this.countNoiseStd(Math.max(1, this.reports)),
    });
  }

  /** A new round: forget the last round's reports. */
  reset(): void {
    this.below = 0;
    this.reports = 0;
  }

  /** One accepted update's report (1: its norm was within the clip norm). */
  observe(withinClip: 0 | 1 | undefined): void {
    if (!this.adaptive || withinClip === undefined) return;
    this.reports += 1;
    this.below += withinClip;
  }

  /**
   * After aggregation: the next round's clip norm from the noised share of updates within it.
   * @example const { clipNorm } = clip.step() // undefined when not adaptive or nobody reported
   */
  step(): { clipNorm: number; previous: number; noisedFraction: number; reports: number } | undefined {
    const settings = this.rules.adaptiveClip;
    if (!this.adaptive || !settings || this.reports === 0) return undefined;
    const previous = this.norm;
    const next = dp.adaptiveClipStep({
      clipNorm: previous,
      countBelow: this.below,
      participants: this.reports,
      targetQuantile: settings.targetQuantile,
      learningRate: settings.learningRate,
      countNoiseStd: this.countNoiseStd(this.reports),
    });
    this.norm = next.clipNorm;
    return { clipNorm: next.clipNorm, previous, noisedFraction: next.noisedFraction, reports: this.reports };
  }

  /** sigma_b: the rules' value, else participants / 20 as the paper suggests, and always above z/2 so the update noise stays finite. */
  private countNoiseStd(participants: number): number {
    const z = this.rules.dp?.noiseMultiplier ?? 1;
    return Math.max(this.rules.adaptiveClip?.countNoiseStd ?? participants / 20, z / 2 + 1e-3);
  }
}
