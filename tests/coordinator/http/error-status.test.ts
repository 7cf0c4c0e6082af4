import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS, onError } from '../../../coordinator/http/errors.js';
import { CohortError, ErrorCode } from '../../../protocol/index.js';

/** An app whose one route throws what it is given, answered by the coordinator's error handler. */
function throwing(cause: unknown): Hono {
  const app = new Hono();
  app.get('/', () => {
    throw cause;
  });
  app.onError(onError);
  return app;
}

describe('HTTP error mapping', () => {
  it('gives every wire code a status, in one table', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('answers a request the round state does not allow with 409, not 400 or 500', async () => {
    for (const code of ['WRONG_ROUND', 'ROUND_CLOSED', 'DEADLINE_PASSED', 'DUPLICATE'] as const) {
      const res = await throwing(new CohortError(code, `the round says no (${code})`)).request('/');
      expect(res.status, code).toBe(409);
      expect(await res.json()).toEqual({ error: { code, message: `the round says no (${code})` } });
    }
  });

  it('answers a missing row with 404 NOT_FOUND and anything unknown with 500 INTERNAL', async () => {
    const missing = await throwing(new CohortError('NOT_FOUND', 'api token nope does not exist')).request('/');
    expect([missing.status, ((await missing.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND']);
    const unknown = await throwing(new Error('boom')).request('/');
    expect([unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code]).toEqual([500, 'INTERNAL']);
  });
});
