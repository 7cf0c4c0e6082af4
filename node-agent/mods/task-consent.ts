/** The consent guard as mods: no task runs unless the coordinator signed its model and the institution's consent covers it; consent is read again before an update leaves. */
import { ErrorCode, type EvaluateTask, type RoundTask, type SignedRevocation } from '../../protocol/index.js';
import { checkSignedModel } from '../model-check.js';
import { checkTask, type ConsentState } from './consent-guard.js';
import type { Mod } from './chain.js';

export interface TaskConsentOptions {
  federation: string;
  coordinatorSignPublicKey: Uint8Array;
  /** Reads the institution's consent and any revocation (from disk, at every call). */
  consent(): ConsentState;
  /** Called with a revocation found at the site (the agent tells the coordinator, once). */
  onRevocation(revocation: SignedRevocation): void;
}

/** Why a task is refused. */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

/**
 * Consent alone (the model's signature checked apart): the reason to refuse the task, or null.
 * @example const refused = consentRefusal(task, options); if (refused) decline(task.round, refused.code, refused.message)
 */
export function consentRefusal(task: RoundTask | EvaluateTask, o: TaskConsentOptions): Refusal | null {
  let state;
  try {
    state = o.consent();
  } catch (err) {
    return { code: 'CONSENT_MISSING', message: (err as Error).message };
  }
  // Revoked at the site (cohort consent revoke) since the session began: the coordinator is told, signed.
  if (state.revocation) o.onRevocation(state.revocation);
  const verdict = checkTask(state, {
    manifest: task.study,
    use: task.use,
    round: task.round,
    modelVersion: task.model.version,
    participants: task.participants,
    spec: task.model.spec,
    privacy: task.privacy,
    training: task.use === 'training' ? task.config : undefined,
  });
  return verdict.ok ? null : verdict;
}

/**
 * Signature, then consent: the reason to refuse a training or evaluation task, or null to run it.
 * @example const refused = taskRefusal(task, options)
 */
export function taskRefusal(task: RoundTask | EvaluateTask, o: TaskConsentOptions): Refusal | null {
  return checkSignedModel(task.model, o.federation, o.coordinatorSignPublicKey) ?? consentRefusal(task, o);
}

/**
 * Declines a task for another federation, with a model the pinned coordinator did not sign, or outside the consent.
 * @example chain([consentGuard(options), ...mods], train)
 */
export function consentGuard(o: TaskConsentOptions): Mod {
  return async (task, ctx, next) => {
    const refused =
      task.federation === o.federation
        ? taskRefusal(task, o)
        : { code: ErrorCode.WRONG_FEDERATION, message: `task for federation ${task.federation}, this agent serves ${o.federation}` };
    return refused ? { kind: 'declined', ...refused } : next(task, ctx);
  };
}

/**
 * Reads the consent again once the update is trained: a revocation written while training (or an approval that
 * expired) keeps the update at the site (audited as update.dropped), and the task is declined.
 * @example chain([..., consentBeforeSending(options), ...], train)
 */
export function consentBeforeSending(o: TaskConsentOptions): Mod {
  return async (task, ctx, next) => {
    const outcome = await next(task, ctx);
    if (outcome.kind !== 'trained') return outcome;
    const withdrawn = consentRefusal(task, o);
    if (!withdrawn) return outcome;
    ctx.audit.append('update.dropped', { round: task.round, code: withdrawn.code, message: withdrawn.message });
    return { kind: 'declined', code: withdrawn.code, message: `update not sent: ${withdrawn.message}` };
  };
}
