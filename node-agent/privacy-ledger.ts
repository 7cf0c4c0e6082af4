/** The site's own privacy ledger: every update it sent under DP, charged as one step of the study's Gaussian mechanism, kept beside its consent. */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ConsentRefusal, type ErrorCode } from '../protocol/index.js';
import { dp } from '../crypto/index.js';

const LedgerEntrySchema = z
  .object({
    /** The training round charged, or 0 for an analytics query (then `query` names it). */
    round: z.number().int().min(0),
    query: z.string().min(1).max(64).optional(),
    federation: z.string().min(1),
    manifestHash: z.string().min(1),
    noiseMultiplier: z.number().positive(),
    samplingRate: z.number().gt(0).max(1),
    delta: z.number().gt(0).lt(1),
    /** The budget in force when charged: the consent's maxEpsilon, else the manifest's epsilon. */
    budget: z.number().positive(),
    at: z.string().datetime(),
  })
  .strict();
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;
const LedgerSchema = z.object({ format: z.literal('cohort-privacy-ledger/v1'), entries: z.array(LedgerEntrySchema) }).strict();

/**
 * Where a consent's ledger is kept: next to it, `<name>.ledger.json`.
 * @example ledgerPath('sites/a/consent.json') // 'sites/a/consent.ledger.json'
 */
export function ledgerPath(consentPath: string): string {
  return consentPath.replace(/(\.json)?$/, '.ledger.json');
}

/**
 * The entries charged so far; none when the file is absent. A file that does not parse throws: the agent then refuses
 * DP tasks rather than forget what it spent.
 * @example const entries = readLedger(ledgerPath('consent.json'))
 */
export function readLedger(path: string): LedgerEntry[] {
  if (!existsSync(path)) return [];
  return LedgerSchema.parse(JSON.parse(readFileSync(path, 'utf8'))).entries;
}

/**
 * Epsilon spent at `delta` by the entries (plus `next`, if given): each a step of the sampled Gaussian mechanism at its
 * own q and z, composed by RDP (crypto/dp). With q = 1 each entry is the plain Gaussian mechanism on the site's update.
 * @example ledgerSpent(entries, 1e-5) // 4.21
 */
export function ledgerSpent(entries: readonly Pick<LedgerEntry, 'noiseMultiplier' | 'samplingRate'>[], delta: number): number {
  return dp.epsilonForSteps({ steps: entries.map((e) => ({ q: e.samplingRate, noiseMultiplier: e.noiseMultiplier })), delta }).epsilon;
}

/**
 * Whether one more contribution fits the budget; refuses with CONSENT_EPSILON_EXCEEDED when it would not.
 * @example const v = budgetVerdict(entries, { noiseMultiplier: 1.1, samplingRate: 1, delta: 1e-5, budget: 8 })
 */
export function budgetVerdict(
  entries: readonly LedgerEntry[],
  next: Pick<LedgerEntry, 'noiseMultiplier' | 'samplingRate' | 'delta' | 'budget'>,
): { ok: true; after: number } | { ok: false; code: ErrorCode; message: string } {
  const after = ledgerSpent([...entries, next], next.delta);
  if (after <= next.budget * (1 + 1e-9)) return { ok: true, after };
  const before = ledgerSpent(entries, next.delta);
  return {
    ok: false,
    code: ConsentRefusal.EPSILON,
    message: `this site's privacy ledger: ${entries.length} contributions spent epsilon ${before.toPrecision(6)} (delta ${next.delta}); one more would spend ${after.toPrecision(6)}, above its budget ${next.budget}`,
  };
}

/**
 * Appends an entry and rewrites the file atomically (write, then rename), before the update leaves the site.
 * @example chargeLedger(path, { round: 3, federation, manifestHash, noiseMultiplier: 1.1, samplingRate: 1, delta: 1e-5, budget: 8, at })
 */
export function chargeLedger(path: string, entry: LedgerEntry): LedgerEntry[] {
  const entries = [...readLedger(path), LedgerEntrySchema.parse(entry)];
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ format: 'cohort-privacy-ledger/v1', entries }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return entries;
}
