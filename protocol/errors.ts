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
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

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
