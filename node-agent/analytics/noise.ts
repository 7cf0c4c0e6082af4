/**
 * DP noise on a site's counts: the Gaussian mechanism over the whole count answer at its L2 sensitivity, at an epsilon the
 * site decides from its consent (the query can only ask for more noise), charged to the same ledger as training.
 */
import {
  ConsentRefusal,
  type CountAsk,
  type ErrorCode,
  type SignedConsent,
  type StatsDp,
  type StudyManifest,
} from '../../protocol/index.js';
import { dp } from '../../crypto/index.js';
import { budgetVerdict, chargeLedger, readLedger, type LedgerEntry } from '../privacy-ledger.js';

/** Adds noise to counts (rounded, clamped at 0: post-processing) or leaves them exact. */
export interface CountNoise {
  exact: boolean;
  add(counts: readonly number[]): number[];
}

/** No noise: the counts as they are. */
export const NO_NOISE: CountNoise = { exact: true, add: (counts) => [...counts] };

/** The delta of an analytics query when the study states none (the ledger composes every entry at one delta). */
export const ANALYTICS_DELTA = 1e-5;

/**
 * Noise N(0, sigma^2) on each count, rounded to an integer and clamped at 0.
 * @example gaussianCountNoise(3.2, dp.cryptoGaussian()).add([10, 0]) // e.g. [13, 0]
 */
export function gaussianCountNoise(sigma: number, gaussian: dp.GaussianSource): CountNoise {
  return { exact: false, add: (counts) => counts.map((n) => Math.max(0, Math.round(n + sigma * gaussian()))) };
}

/**
 * The L2 sensitivity of a count answer to adding or removing one row: the row count (1), per numeric column present or
 * missing (1) and one histogram cell (1), per categorical column and crosstab one cell (1 each), and for survival either
 * `excluded` or its group's size, at most every at-risk step and one event (grid length + 2). Means and M2 are not sent under noise.
 * @example countSensitivity({ phase: 'count', numeric: [{ column: 'age', edges: [0, 50] }], categorical: ['sex'], crosstabs: [] }) // 2
 */
export function countSensitivity(ask: CountAsk): number {
  const squared =
    1 + 2 * ask.numeric.length + ask.categorical.length + ask.crosstabs.length + (ask.survival ? ask.survival.grid.length + 2 : 0);
  return Math.sqrt(squared);
}

export type NoisePlan = { ok: true; dp?: StatsDp; entry?: LedgerEntry } | { ok: false; code: ErrorCode; message: string };

/**
 * What noise this site adds to a count answer: epsilon is the smaller of the asked one and the consent's
 * `analyticsEpsilon` (none of either: no noise); the noise multiplier is the Gaussian mechanism's for that epsilon at the
 * study's delta (one step, q = 1), sigma = multiplier x sensitivity. Refuses CONSENT_EPSILON_EXCEEDED when the site has no
 * budget (consent maxEpsilon, else the study's epsilon), no ledger, or the charge would take its ledger past the budget.
 * @example const plan = planNoise({ consent, study, ask, askedEpsilon: 1, ledgerFile, queryId })
 */
export function planNoise(args: {
  consent: SignedConsent;
  study: StudyManifest;
  ask: CountAsk;
  askedEpsilon: number | undefined;
  ledgerFile: string | undefined;
  queryId: string;
}): NoisePlan {
  const own = args.consent.body.limits.analyticsEpsilon;
  const epsilon = Math.min(args.askedEpsilon ?? Infinity, own ?? Infinity);
  if (!Number.isFinite(epsilon)) return { ok: true };
  const refuse = (message: string): NoisePlan => ({ ok: false, code: ConsentRefusal.EPSILON, message });
  const terms = args.study.privacy.dp;
  const budget = args.consent.body.limits.maxEpsilon ?? terms?.epsilon;
  if (budget === undefined)
    return refuse('this site has no privacy budget (consent maxEpsilon or the study epsilon) to charge DP analytics to');
  if (!args.ledgerFile) return refuse('this agent keeps no privacy ledger (start it with --consent FILE)');
  const delta = terms?.delta ?? ANALYTICS_DELTA;
  let noiseMultiplier: number;
  try {
    noiseMultiplier = dp.noiseFor({ q: 1, steps: 1, delta, targetEpsilon: epsilon });
  } catch (err) {
    return refuse(`epsilon ${epsilon}: ${(err as Error).message}`);
  }
  const entry: LedgerEntry = {
    round: 0,
    query: args.queryId,
    federation: args.study.federation,
    manifestHash: args.consent.body.manifestHash,
    noiseMultiplier,
    samplingRate: 1,
    delta,
    budget,
    at: new Date().toISOString(),
  };
  let entries: LedgerEntry[];
  try {
    entries = readLedger(args.ledgerFile);
  } catch (err) {
    return refuse(`the privacy ledger ${args.ledgerFile} cannot be read (${(err as Error).message}): what this site spent is unknown`);
  }
  const verdict = budgetVerdict(entries, entry);
  if (!verdict.ok) return verdict;
  const sensitivity = countSensitivity(args.ask);
  return { ok: true, dp: { epsilon, delta, noiseMultiplier, sensitivity, sigma: noiseMultiplier * sensitivity }, entry };
}

/**
 * Charges the planned entry to the ledger (before the answer leaves the site).
 * @example chargeNoise(ledgerFile, plan.entry)
 */
export function chargeNoise(ledgerFile: string, entry: LedgerEntry): void {
  chargeLedger(ledgerFile, entry);
}
