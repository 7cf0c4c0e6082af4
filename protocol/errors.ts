/** Wire error codes shared by coordinator and agent, and the one helper that normalises anything thrown. */

export const ErrorCode = {
  PROTOCOL_MISMATCH: 'PROTOCOL_MISMATCH',
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  RATE_LIMITED: 'RATE_LIMITED',
  UNKNOWN_INSTITUTION: 'UNKNOWN_INSTITUTION',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  WRONG_FEDERATION: 'WRONG_FEDERATION',
  WRONG_ROUND: 'WRONG_ROUND',
  NOT_SELECTED: 'NOT_SELECTED',
  DUPLICATE: 'DUPLICATE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  CORRUPT_PAYLOAD: 'CORRUPT_PAYLOAD',
  DECRYPT_FAILED: 'DECRYPT_FAILED',
  SHAPE_MISMATCH: 'SHAPE_MISMATCH',
  NON_FINITE: 'NON_FINITE',
  BAD_SAMPLE_COUNT: 'BAD_SAMPLE_COUNT',
  /** An update's L2 distance from the global model it was trained from is above the round's bound (DP clip, study's or default). */
  UPDATE_NORM_EXCEEDED: 'UPDATE_NORM_EXCEEDED',
  DEADLINE_PASSED: 'DEADLINE_PASSED',
  ROUND_CLOSED: 'ROUND_CLOSED',
  UPLOAD_UNKNOWN: 'UPLOAD_UNKNOWN',
  /** An upload chunk that is not the next one in order: a duplicate of one held, or one beyond a gap (resume from update:begin's `next`). */
  UPLOAD_OUT_OF_ORDER: 'UPLOAD_OUT_OF_ORDER',
  /** The institution revoked its consent (the coordinator has recorded the revocation): nothing more of its data is taken. */
  CONSENT_REVOKED: 'CONSENT_REVOKED',
  /** A secure-aggregation step was refused (wrong phase, bad signature, inconsistent shares) or the protocol could not finish. */
  SECAGG_FAILED: 'SECAGG_FAILED',
  /** A secure round names a participant (or a key) that is not in the study manifest the site consented to. */
  SECAGG_PARTICIPANT_UNKNOWN: 'SECAGG_PARTICIPANT_UNKNOWN',
  /** A secure round's threshold is below what the study's threat model allows. */
  SECAGG_THRESHOLD_TOO_LOW: 'SECAGG_THRESHOLD_TOO_LOW',
  /** A user model's frozen (or FedBN-local) base tensors at the site are not the ones the spec pins (or the site has none). */
  MODEL_BASE_MISMATCH: 'MODEL_BASE_MISMATCH',
  /** A compressed update is malformed (index out of range or out of order, wrong length or count, NaN scale) or not in the study's compression. */
  BAD_COMPRESSION: 'BAD_COMPRESSION',
  /** The study's update compression cannot be combined with what the round runs (secure aggregation's ring encoding). */
  COMPRESSION_UNSUPPORTED: 'COMPRESSION_UNSUPPORTED',
  NOT_FOUND: 'NOT_FOUND',
  /** An event name the coordinator does not take (answered whenever the event carries an acknowledgement). */
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  /** The federation stopped as failed (too many consecutive failed rounds, or its privacy budget): no more rounds. */
  FEDERATION_FAILED: 'FEDERATION_FAILED',
  /** The coordinator cannot store anything now (database locked, disk full): nothing was taken; try again later. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** A site's data does not fit the study's data dictionary (columns missing, wrong types, out of range, unknown categories): one message lists every problem. */
  DATA_DICTIONARY_MISMATCH: 'DATA_DICTIONARY_MISMATCH',
  /** This coordinator was started without a model runner, so it cannot run models (predict): nothing was computed. */
  MODEL_RUNNER_UNAVAILABLE: 'MODEL_RUNNER_UNAVAILABLE',
  /** The model runner's worker crashed or ran past its time limit: the request was dropped; the next one starts a new worker. */
  MODEL_RUNNER_FAILED: 'MODEL_RUNNER_FAILED',
  INTERNAL: 'INTERNAL',
  // Why a site declines a task (round:decline) or the coordinator leaves it out of a round: its consent, terms, data.
  /** The site holds no consent (or its consent file is gone). */
  CONSENT_MISSING: 'CONSENT_MISSING',
  /** The task's study (manifest hash, training terms) is not the one the consent covers. */
  CONSENT_MANIFEST_MISMATCH: 'CONSENT_MANIFEST_MISMATCH',
  /** The task's model is not the one the consent covers. */
  CONSENT_MODEL_MISMATCH: 'CONSENT_MODEL_MISMATCH',
  /** The task's privacy terms are weaker than the consent's. */
  CONSENT_PRIVACY_MISMATCH: 'CONSENT_PRIVACY_MISMATCH',
  /** The consent does not cover this use (training, evaluation, analytics). */
  CONSENT_USE_NOT_ALLOWED: 'CONSENT_USE_NOT_ALLOWED',
  CONSENT_EXPIRED: 'CONSENT_EXPIRED',
  /** The round has fewer other institutions than the consent asks for. */
  CONSENT_TOO_FEW_INSTITUTIONS: 'CONSENT_TOO_FEW_INSTITUTIONS',
  /** The site's own privacy ledger would pass the epsilon its consent allows. */
  CONSENT_EPSILON_EXCEEDED: 'CONSENT_EPSILON_EXCEEDED',
  /** The task's clip norm or distributed-noise std is not what the signed study terms give. */
  DP_TERMS_MISMATCH: 'DP_TERMS_MISMATCH',
  /** The manifest states an epsilon below what its own terms spend over its rounds. */
  DP_BUDGET_UNDERSTATED: 'DP_BUDGET_UNDERSTATED',
  /** The study promises secure aggregation but the task does not run it. */
  PRIVACY_MISMATCH: 'PRIVACY_MISMATCH',
  /** The task's model is not signed by the pinned coordinator key. */
  BAD_MODEL_SIGNATURE: 'BAD_MODEL_SIGNATURE',
  /** The site keeps no validation rows, so it cannot evaluate a candidate. */
  NO_VALIDATION_DATA: 'NO_VALIDATION_DATA',
  /** The policy's data-residency rule excludes the institution. */
  POLICY_RESIDENCY: 'POLICY_RESIDENCY',
  /** Analytics: the site has no session (no study) yet to check a query against. */
  NOT_READY: 'NOT_READY',
  /** Analytics: the site holds no table to answer from (none given, or unreadable). */
  NO_ANALYTICS_DATA: 'NO_ANALYTICS_DATA',
  /** Analytics: a site did not answer in time (or sent no masked vector). */
  NO_ANSWER: 'NO_ANSWER',
  /** Analytics: an enrolled site is not connected, so it was not asked. */
  OFFLINE: 'OFFLINE',
  /** A peer (an older or newer agent, or a hostile one) sent a code this side does not know: recorded with the code it sent. */
  UNKNOWN_CODE: 'UNKNOWN_CODE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Whether `code` is one of ours (a code read from the wire or the store may not be).
 * @example isErrorCode('WRONG_ROUND') // true
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorCode, code);
}

/**
 * A code from the wire as one of ours: unknown codes become UNKNOWN_CODE (keep the original beside it where it is recorded).
 * @example knownCode('SOMETHING_NEW') // 'UNKNOWN_CODE'
 */
export function knownCode(code: string): ErrorCode {
  return isErrorCode(code) ? code : 'UNKNOWN_CODE';
}

/** The JSON shape of an error on the wire (socket acks, connect errors, HTTP bodies). */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * An error with a wire code. Throw it at a boundary; `toCohortError` keeps its code.
 * @example throw new CohortError('WRONG_ROUND', `update for round 3, current round is 4`)
 */
export class CohortError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CohortError';
    this.code = code;
  }
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** Turns anything thrown into a CohortError; unknown failures become INTERNAL with their message. */
export function toCohortError(cause: unknown): CohortError {
  if (cause instanceof CohortError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new CohortError('INTERNAL', message, { cause });
}

/** True when `value` looks like a WireError (for clients reading acks). */
export function isWireError(value: unknown): value is WireError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as WireError).code === 'string' &&
    typeof (value as WireError).message === 'string'
  );
}
