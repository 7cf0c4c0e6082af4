import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../coordinator/http/app.js';
import { openSqliteStore, type Store } from '../../../coordinator/index.js';

describe('/healthz and /readyz for supervisors and load balancers', () => {
  let dir: string;
  let store: Store;
  const api = (readiness?: () => Record<string, string | null>) =>
    createApi({ store, dataDir: dir, coordinatorSignPublicKey: 'AAAA', online: () => [], startedAt: Date.now(), readiness });
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cohort-probes-'));
    store = openSqliteStore(join(dir, 'coordinator.db'));
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz 200 without a token', async () => {
    const res = await api().request('/healthz');

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('answers /readyz 200 when every check passes, and 503 naming the failing check otherwise', async () => {
    const ready = await api(() => ({ database: null, accepting: null })).request('/readyz');
    const notReady = await api(() => ({ database: 'SQLITE_BUSY: database is locked', accepting: null })).request('/readyz');

    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { database: { ok: true }, accepting: { ok: true } } });
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({
      ready: false,
      checks: { database: { ok: false, problem: 'SQLITE_BUSY: database is locked' }, accepting: { ok: true } },
    });
  });
});
