/** Typed outcomes of the secure-aggregation state machines: failures, refusals of single messages, and blame. */

export type SecAggStep = 'advertise-keys' | 'share-keys' | 'masked-input' | 'consistency-check' | 'unmasking';

export type SecAggFailureCode =
  /** Fewer than t participants remain at this step; nothing is (or will be) revealed. */
  | 'TOO_FEW_PARTICIPANTS'
  /** Fewer than t valid shares of a secret the server needs. */
  | 'INSUFFICIENT_SHARES'
  /** A dealer's shares do not reconstruct one secret matching its commitment: the dealer is named. */
  | 'INCONSISTENT_SHARES'
  /**
   * A participant refuses a request that would reveal too much (both shares of one participant, a second unmask request,
   * a survivor set other than the one it signed, fewer than t survivors' signatures on it).
   */
  | 'CONSISTENCY_RULE'
  /** A message from the server is malformed or carries a signature that does not verify. */
  | 'BAD_MESSAGE'
  /** A method was called out of order. */
  | 'WRONG_PHASE'
  /** This participant is not (or no longer) part of the round. */
  | 'NOT_IN_ROUND';

export interface SecAggFailure {
  code: SecAggFailureCode;
  step: SecAggStep;
  message: string;
  /** Who it concerns (e.g. the dealer whose shares were inconsistent). */
  participants?: string[];
  have?: number;
  need?: number;
}

export type StepResult<T> = { ok: true; message: T } | { ok: false; failure: SecAggFailure };

export type RejectReason = 'WRONG_PHASE' | 'UNKNOWN_SENDER' | 'NOT_IN_ROUND' | 'DUPLICATE' | 'MALFORMED' | 'BAD_SIGNATURE';

/** What the server answers to one inbound message: accepted, or refused (the round goes on without it). */
export type Receipt = { ok: true } | { ok: false; reason: RejectReason; message: string };

export type BlameReason = 'UNDECRYPTABLE_SHARE' | 'SHARE_COMMITMENT_MISMATCH' | 'WRONG_SHARE_REVEALED' | 'INCONSISTENT_SHARES';

/**
 * A participant caught misbehaving. 'proof': the participant's own signatures establish it (a signed share that
 * contradicts its signed commitment, or signed commitments to shares of no single secret). 'complaint': another participant
 * says so and the server cannot check it (either of the two may be lying).
 */
export interface Blame {
  participant: string;
  reason: BlameReason;
  evidence: 'proof' | 'complaint';
  reportedBy?: string;
  message: string;
}

export function failure(
  code: SecAggFailureCode,
  step: SecAggStep,
  message: string,
  extra: Partial<SecAggFailure> = {},
): { ok: false; failure: SecAggFailure } {
  return { ok: false, failure: { code, step, message, ...extra } };
}
