/** Maps wire error codes to HTTP statuses; every error leaves as JSON `{ error: { code, message } }`. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { CohortError, type ErrorCode } from '../../protocol/index.js';
import { knownError } from '../store/index.js';

type Status = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

/**
 * Every wire code's HTTP status, in one table: a new code does not compile until it is given one. 4xx: the caller's
 * request (400 malformed, 401 who, 403 not allowed, 404 no such thing, 409 the state of the round or federation does
 * not allow it now); 500: ours (a stored model failing its digest is ours); 503: try again later.
 */
export const HTTP_STATUS: Record<ErrorCode, Status> = {
  PROTOCOL_MISMATCH: 400,
  BAD_REQUEST: 400,
  SHAPE_MISMATCH: 400,
  NON_FINITE: 400,
  BAD_SAMPLE_COUNT: 400,
  UPDATE_NORM_EXCEEDED: 400,
  CORRUPT_PAYLOAD: 500,
  DECRYPT_FAILED: 400,
  UNAUTHENTICATED: 401,
  BAD_SIGNATURE: 401,
  FORBIDDEN: 403,
  NOT_SELECTED: 403,
  WRONG_FEDERATION: 403,
  CONSENT_REVOKED: 403,
  SECAGG_PARTICIPANT_UNKNOWN: 403,
  SECAGG_THRESHOLD_TOO_LOW: 403,
  DATA_DICTIONARY_MISMATCH: 400,
  MODEL_BASE_MISMATCH: 400,
  BAD_COMPRESSION: 400,
  COMPRESSION_UNSUPPORTED: 400,
  NOT_FOUND: 404,
  UNKNOWN_INSTITUTION: 404,
  UPLOAD_UNKNOWN: 404,
  UPLOAD_OUT_OF_ORDER: 409,
  UNKNOWN_EVENT: 404,
  DUPLICATE: 409,
  WRONG_ROUND: 409,
  ROUND_CLOSED: 409,
  DEADLINE_PASSED: 409,
  SECAGG_FAILED: 409,
  FEDERATION_FAILED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  MODEL_RUNNER_UNAVAILABLE: 503,
  MODEL_RUNNER_FAILED: 503,
  CONSENT_MISSING: 403,
  CONSENT_MANIFEST_MISMATCH: 403,
  CONSENT_MODEL_MISMATCH: 403,
  CONSENT_PRIVACY_MISMATCH: 403,
  CONSENT_USE_NOT_ALLOWED: 403,
  CONSENT_EXPIRED: 403,
  CONSENT_TOO_FEW_INSTITUTIONS: 403,
  CONSENT_EPSILON_EXCEEDED: 403,
  DP_TERMS_MISMATCH: 403,
  DP_BUDGET_UNDERSTATED: 403,
  PRIVACY_MISMATCH: 403,
  POLICY_RESIDENCY: 403,
  BAD_MODEL_SIGNATURE: 400,
  NO_VALIDATION_DATA: 409,
  NOT_READY: 503,
  NO_ANALYTICS_DATA: 404,
  NO_ANSWER: 503,
  OFFLINE: 503,
  UNKNOWN_CODE: 400,
};

/** An HTTP status for hono's own exceptions (malformed JSON bodies, for instance). */
function fromHttpException(err: HTTPException): CohortError {
  const code: ErrorCode =
    err.status === 413 ? 'PAYLOAD_TOO_LARGE' : err.status === 401 ? 'UNAUTHENTICATED' : err.status < 500 ? 'BAD_REQUEST' : 'INTERNAL';
  return new CohortError(code, err.message || `HTTP ${err.status}`);
}

/** hono `onError` handler. */
export function onError(cause: unknown, c: Context): Response {
  // A locked database or a full disk is 503 UNAVAILABLE, not a 500 of ours.
  const err = cause instanceof HTTPException ? fromHttpException(cause) : knownError(cause);
  return c.json({ error: err.toWire() }, HTTP_STATUS[err.code]);
}
