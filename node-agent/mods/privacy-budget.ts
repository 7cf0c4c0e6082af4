/** The site's DP policy on a training task: the study's terms, then its own budget before training; the ledger charge before the update leaves. */
import { ConsentRefusal, ErrorCode, manifestHash, type RoundTask, type SignedConsent } from '../../protocol/index.js';
import { budgetVerdict, chargeLedger, ledgerPath, ledgerSpent, readLedger, type LedgerEntry } from '../privacy-ledger.js';
import { checkDpTerms } from './dp-terms.js';
import type { ConsentState } from './consent-guard.js';
import type { Mod } from './chain.js';

type DpTask = Pick<RoundTask, 'study' | 'config' | 'secagg' | 'round' | 'federation'>;

/** What one contribution to this task would charge, or undefined when the study runs no DP. */
function nextEntry(task: DpTask, consent: SignedConsent): LedgerEntry | undefined {
  const terms = task.study.privacy.dp;
  if (!terms) return undefined;
  return {
    round: task.round,
    federation: task.federation,
    manifestHash: manifestHash(task.study),
    noiseMultiplier: terms.noiseMultiplier,
    samplingRate: terms.samplingRate,
    delta: terms.delta,
    budget: consent.body.limits.maxEpsilon ?? terms.epsilon,
    at: new Date().toISOString(),
  };
}

/**
 * The reason to refuse a training task before any training, or null: its DP terms are not the signed study's, or one
 * more contribution would take this site's own ledger past its budget (whatever the coordinator says).
 * @example const refused = dpRefusal(task, consentFile, consent); if (refused) return decline(task.round, refused.code, refused.message)
 */
export function dpRefusal(task: DpTask, consentFile: string, consent: SignedConsent): { code: ErrorCode; message: string } | null {
  const terms = checkDpTerms(task);
  if (!terms.ok) return terms;
  const next = nextEntry(task, consent);
  if (!next) return null;
  let entries: LedgerEntry[];
  try {
    entries = readLedger(ledgerPath(consentFile));
  } catch (err) {
    return {
      code: ConsentRefusal.EPSILON,
      message: `the privacy ledger ${ledgerPath(consentFile)} cannot be read (${(err as Error).message}): what this site spent is unknown`,
    };
  }
  const verdict = budgetVerdict(entries, next);
  return verdict.ok ? null : verdict;
}

export interface Charge {
  round: number;
  contributions: number;
  epsilonSpent: number;
  delta: number;
  budget: number;
  remaining: number;
}

/**
 * Charges the ledger for the update about to be sent (before it leaves: a lost acknowledgement still counts), and
 * returns the new totals for the audit log; null when the study runs no DP.
 * @example const charge = chargeContribution(task, consentFile, consent); if (charge) audit.append('privacy.charged', { ...charge })
 */
export function chargeContribution(task: DpTask, consentFile: string, consent: SignedConsent): Charge | null {
  const next = nextEntry(task, consent);
  if (!next) return null;
  const entries = chargeLedger(ledgerPath(consentFile), next);
  const epsilonSpent = ledgerSpent(entries, next.delta);
  return {
    round: task.round,
    contributions: entries.length,
    epsilonSpent,
    delta: next.delta,
    budget: next.budget,
    remaining: Math.max(0, next.budget - epsilonSpent),
  };
}

/**
 * The site's DP policy as a mod: declines a task whose DP terms are not the study's or that would overspend this
 * site's budget (a copy sent again may ask once more), and charges the ledger once the update is about to leave.
 * @example chain([..., privacyBudget({ consentFile, consent }), ...], train)
 */
export function privacyBudget(o: { consentFile: string | undefined; consent(): ConsentState }): Mod {
  return async (task, ctx, next) => {
    const consent = o.consent().consent;
    const refused = consent
      ? dpRefusal(task, o.consentFile as string, consent)
      : { code: ErrorCode.CONSENT_MISSING, message: 'the consent file is gone' };
    if (refused) return { kind: 'declined', ...refused, retry: true };
    const outcome = await next(task, ctx);
    if (outcome.kind !== 'trained') return outcome;
    const charge = chargeContribution(task, o.consentFile as string, consent as SignedConsent);
    if (charge) {
      ctx.audit.append('privacy.charged', { ...charge });
      ctx.log.info(charge, 'privacy ledger charged for this update');
    }
    return outcome;
  };
}
