/** Maps wire error codes to HTTP statuses; every error leaves as JSON `{ error: { code, message } }`. */
import type { Context } from 'hono';
import { toCohortError, type ErrorCode } from '../../protocol/index.js';

const STATUS: Partial<Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 500>> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  BAD_SIGNATURE: 401,
  NOT_SELECTED: 403,
  NOT_FOUND: 404,
  UNKNOWN_INSTITUTION: 404,
  DUPLICATE: 409,
  PAYLOAD_TOO_LARGE: 413,
  CORRUPT_PAYLOAD: 500,
};

/** hono `onError` handler. */
export function onError(cause: unknown, c: Context): Response {
  const err = toCohortError(cause);
  return c.json({ error: err.toWire() }, STATUS[err.code] ?? 500);
}
