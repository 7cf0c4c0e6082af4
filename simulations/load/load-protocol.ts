/** What the load run's driver, agent host and worker threads tell each other, and the shift each site applies. */

/** One simulated site of the load run. */
export interface LoadSite {
  id: string;
  index: number;
  keyFile: string;
  consentFile: string;
  /** Training rows it declares (and weighs its update by). */
  rows: number;
}

/** Worker thread (relayed by the host) -> driver. */
export type LoadWorkerMessage =
  | { type: 'ready'; institution: string }
  | { type: 'uploaded'; institution: string; round: number; digest: string; samples: number; shift: number }
  | { type: 'refused'; institution: string; round: number; code: string; message: string }
  | { type: 'fatal'; institution: string | null; message: string }
  | { type: 'stopped' };

/**
 * The constant a site adds to every weight in a round: distinct per site, so an update lost or counted twice
 * moves the published model away from the sample-weighted mean of what was acknowledged.
 * @example shiftOf(3, 1) // 0.0004
 */
export function shiftOf(index: number, round: number): number {
  return ((index % 11) + 1) * 1e-4 * (round % 2 === 1 ? 1 : -1);
}
