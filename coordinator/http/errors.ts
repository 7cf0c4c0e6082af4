/** Maps wire error codes to HTTP statuses; every error leaves as JSON `{ error: { code, message } }`. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { CohortError, type ErrorCode } from '../../protocol/index.js';
import { knownError } from '../store/index.js';

type Status = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

const STATUS: Partial<Record<ErrorCode, Status>> = {
  BAD_REQUEST: 400,
  SHAPE_MISMATCH: 400,
  UNAUTHENTICATED: 401,
  BAD_SIGNATURE: 401,
  FORBIDDEN: 403,
  NOT_SELECTED: 403,
  NOT_FOUND: 404,
  UNKNOWN_INSTITUTION: 404,
  DUPLICATE: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  CORRUPT_PAYLOAD: 500,
  UNAVAILABLE: 503,
  MODEL_RUNNER_UNAVAILABLE: 503,
  MODEL_RUNNER_FAILED: 503,
};

/** An HTTP status for hono's own exceptions (malformed JSON bodies, for instance). */
function fromHttpException(err: HTTPException): CohortError {
  const code: ErrorCode = err.status === 413 ? 'PAYLOAD_TOO_LARGE' : err.status === 401 ? 'UNAUTHENTICATED' : err.status < 500 ? 'BAD_REQUEST' : 'INTERNAL';
  return new CohortError(code, err.message || `HTTP ${err.status}`);
}

/** hono `onError` handler. */
export function onError(cause: unknown, c: Context): Response {
  // A locked database or a full disk is 503 UNAVAILABLE, not a 500 of ours.
  const err = cause instanceof HTTPException ? fromHttpException(cause) : (knownError(cause));
  return c.json({ error: err.toWire() }, STATUS[err.code] ?? 500);
}
