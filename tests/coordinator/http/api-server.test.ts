/** The API on the real coordinator's HTTP port: tokens, loopback metrics, rate limiting by the real peer address, an admin write. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../../coordinator/auth/index.js';
import { startFederation, type Federation } from '../../e2e/helpers.js';
import { publicIdentityDoc } from './api-fixture.js';

let fed: Federation;
let admin: string;
let url: string;
beforeAll(async () => {
  fed = await startFederation(1, { rounds: 1 });
  admin = createApiToken(fed.coordinator.store, { role: 'admin' }, 'test').token;
  url = fed.coordinator.url;
});
afterAll(async () => {
  await fed?.close();
});

describe('the API on a running coordinator', () => {
  it('serves /api only with a token, /health, /openapi.json and (from loopback) /metrics without one', async () => {
    const noToken = await fetch(`${url}/api/federations/e2e`);
    const whoami = await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${admin}` } });
    const metrics = await fetch(`${url}/metrics`);
    const doc = await fetch(`${url}/openapi.json`);

    expect(noToken.status).toBe(401);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    expect(await whoami.json()).toMatchObject({ role: 'admin', institution: null });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^cohort_institutions\{federation="e2e",status="active"\} 1$/m);
    expect(doc.status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('enrols an institution over HTTP; the new institution is in the store and the audit trail', async () => {
    const doc = publicIdentityDoc('late-site');

    const res = await fetch(`${url}/api/federations/e2e/institutions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });

    expect(res.status).toBe(201);
    expect(fed.coordinator.store.getInstitution('e2e', 'late-site')).toMatchObject({ status: 'active', fingerprint: doc.fingerprint });
    expect(fed.coordinator.store.listAudit({ kind: 'institution.enrolled', institution: 'late-site' })).toHaveLength(1);
  });

  it('answers 429 to the peer address after 20 bad tokens in a minute, even with a good token', async () => {
    const bad = { authorization: `Bearer cohort_${'Z'.repeat(43)}` };
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${url}/api/whoami`, { headers: bad })).status);

    const good = await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${admin}` } });

    expect(statuses).toEqual(Array(20).fill(401));
    expect(good.status).toBe(429);
    expect(((await good.json()) as { error: { message: string } }).error.message).toContain('127.0.0.1');
  });
});
