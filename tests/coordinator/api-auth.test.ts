/** The API's access control: every route without a token, with a role it refuses and with one it serves; bad tokens, rate limits, body limits and validation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiToken } from '../../coordinator/auth/index.js';
import type { ApiRole } from '../../coordinator/store/index.js';
import { FED, bearer, buildApiFixture, publicIdentityDoc, type ApiFixture } from './api-fixture.js';

interface ErrorBody {
  error: { code: string; message: string };
}

interface RouteCase {
  method: 'GET' | 'POST';
  /** The route as registered (hono syntax), to check that the table covers them all. */
  route: string;
  path: string;
  roles: ApiRole[];
  body?: () => unknown;
  status?: number;
}

const ALL: ApiRole[] = ['admin', 'auditor', 'institution'];
const f = `/api/federations/${FED}`;
let enrolled = 0;
const CASES: RouteCase[] = [
  { method: 'GET', route: '/api/whoami', path: '/api/whoami', roles: ALL },
  { method: 'GET', route: '/api/federations', path: '/api/federations', roles: ALL },
  { method: 'GET', route: '/api/federations/:id', path: f, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/study', path: `${f}/study`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/consents', path: `${f}/consents`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/institutions', path: `${f}/institutions`, roles: ALL },
  {
    method: 'POST',
    route: '/api/federations/:id/institutions',
    path: `${f}/institutions`,
    roles: ['admin'],
    body: () => publicIdentityDoc(`new-site-${++enrolled}`),
    status: 201,
  },
  {
    method: 'POST',
    route: '/api/federations/:id/institutions/:inst/suspend',
    path: `${f}/institutions/site-2/suspend`,
    roles: ['admin'],
    body: () => ({ reason: 'test' }),
  },
  {
    method: 'POST',
    route: '/api/federations/:id/institutions/:inst/reactivate',
    path: `${f}/institutions/site-2/reactivate`,
    roles: ['admin'],
    body: () => ({}),
  },
  { method: 'GET', route: '/api/federations/:id/rounds', path: `${f}/rounds?limit=1`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/rounds/:round', path: `${f}/rounds/1`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/models', path: `${f}/models`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/models/:version', path: `${f}/models/1`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/models/:version/card', path: `${f}/models/1/card`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/models/:version/lineage', path: `${f}/models/2/lineage`, roles: ALL },
  { method: 'GET', route: '/api/federations/:id/models/:version/weights', path: `${f}/models/2/weights`, roles: ALL },
  {
    method: 'POST',
    route: '/api/federations/:id/models/:version/predict',
    path: `${f}/models/2/predict`,
    roles: ALL,
    body: () => ({ rows: [{ age: 40, income: 30_000, bmi: 22 }] }),
  },
  { method: 'GET', route: '/api/federations/:id/audit', path: `${f}/audit?limit=5`, roles: ALL },
  { method: 'POST', route: '/api/federations/:id/audit/verify', path: `${f}/audit/verify`, roles: ['admin', 'auditor'] },
  { method: 'POST', route: '/api/federations/:id/stats', path: `${f}/stats`, roles: ['admin'], body: () => ({ columns: ['age'] }) },
  { method: 'GET', route: '/api/federations/:id/stats', path: `${f}/stats`, roles: ['admin', 'auditor'] },
];

let fx: ApiFixture;
let app: ReturnType<ApiFixture['api']>;
beforeAll(() => {
  fx = buildApiFixture();
  // the stats route's query runner needs live sites (tests/e2e/analytics.test.ts runs it); here only access control is under test
  app = fx.api({ stats: async () => ({ format: 'cohort-stats/v1' }) });
});
afterAll(() => fx?.close());

const tokenOf = (role: ApiRole): string => (role === 'admin' ? fx.tokens.admin : role === 'auditor' ? fx.tokens.auditor : fx.tokens.site1);

async function send(c: RouteCase, headers: Record<string, string>): Promise<Response> {
  const body = c.body?.();
  return app.request(c.path, {
    method: c.method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
  return body;
}

describe('every API route x (no token, a role it refuses, each role it serves)', () => {
  it('the table covers every /api route the app registers', () => {
    const registered = new Set(
      app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/')).map((r) => `${r.method} ${r.path}`),
    );

    expect([...registered].sort()).toEqual([...new Set(CASES.map((c) => `${c.method} ${c.route}`))].sort());
  });

  for (const c of CASES) {
    it(`${c.method} ${c.route}: 401 without a token, 403 for ${ALL.filter((r) => !c.roles.includes(r)).join(', ') || 'no role'}, ${c.status ?? 200} for ${c.roles.join(', ')}`, async () => {
      await expectError(await send(c, {}), 401, 'UNAUTHENTICATED');
      for (const role of ALL.filter((r) => !c.roles.includes(r))) {
        const body = await expectError(await send(c, bearer(tokenOf(role))), 403, 'FORBIDDEN');
        expect(body.error.message).toContain(role);
      }
      for (const role of c.roles) {
        const res = await send(c, bearer(tokenOf(role)));
        expect(res.status, `${role}: ${await res.clone().text()}`).toBe(c.status ?? 200);
      }
    });
  }
});

describe('authentication', () => {
  it('GET /api/whoami names the role, the institution and the token id', async () => {
    const who = async (token: string) => (await app.request('/api/whoami', { headers: bearer(token) })).json();

    expect(await who(fx.tokens.admin)).toEqual({ role: 'admin', institution: null, tokenId: fx.tokenIds.admin });
    expect(await who(fx.tokens.auditor)).toEqual({ role: 'auditor', institution: null, tokenId: fx.tokenIds.auditor });
    expect(await who(fx.tokens.site2)).toEqual({ role: 'institution', institution: 'site-2', tokenId: fx.tokenIds.site2 });
  });

  it('answers 401 for an unknown, malformed, non-Bearer or revoked token', async () => {
    const forged = `cohort_${'A'.repeat(43)}`;
    const { token } = (await import('../../coordinator/auth/index.js')).createApiToken(fx.store, { role: 'auditor' }, 'test');
    expect((await app.request('/api/whoami', { headers: bearer(token) })).status).toBe(200);
    revokeApiToken(fx.store, fx.store.getApiTokenByHash((await import('../../coordinator/auth/index.js')).hashToken(token))!.id, 'test');

    for (const authorization of [
      `Bearer ${forged}`,
      'Bearer short',
      `Basic ${fx.tokens.admin}`,
      `Bearer ${fx.tokens.admin}x`,
      `Bearer ${token}`,
      'Bearer',
    ]) {
      await expectError(await app.request('/api/federations', { headers: { authorization } }), 401, 'UNAUTHENTICATED');
    }
  });

  it('needs no token for /health and /openapi.json', async () => {
    expect((await app.request('/health')).status).toBe(200);
    expect((await app.request('/openapi.json')).status).toBe(200);
  });

  it('refuses an address with 429 RATE_LIMITED after too many bad tokens, even with a good token, until the window ends', async () => {
    const limited = fx.api({ authFailureLimit: { max: 3, windowMs: 60_000 } });
    const bad = { authorization: `Bearer cohort_${'B'.repeat(43)}` };

    for (let i = 0; i < 3; i++) await expectError(await limited.request('/api/whoami', { headers: bad }), 401, 'UNAUTHENTICATED');
    const refused = await limited.request('/api/whoami', { headers: bearer(fx.tokens.admin) });

    await expectError(refused, 429, 'RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limited.request('/api/whoami')).status).toBe(429);
    expect(
      (await fx.api({ authFailureLimit: { max: 3, windowMs: 60_000 } }).request('/api/whoami', { headers: bearer(fx.tokens.admin) }))
        .status,
    ).toBe(200);
  });

  it('does not count missing tokens as failures (a page loading without a token is not guessing)', async () => {
    const limited = fx.api({ authFailureLimit: { max: 2, windowMs: 60_000 } });

    for (let i = 0; i < 5; i++) await expectError(await limited.request('/api/whoami'), 401, 'UNAUTHENTICATED');

    expect((await limited.request('/api/whoami', { headers: bearer(fx.tokens.admin) })).status).toBe(200);
  });
});

describe('request bodies', () => {
  it('refuses a body over the size limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const small = fx.api({ maxBodyBytes: 1024 });
    const rows = Array.from({ length: 50 }, () => ({ age: 40, income: 30_000, bmi: 22 }));

    const res = await small.request(`${f}/models/2/predict`, {
      method: 'POST',
      headers: { ...bearer(fx.tokens.auditor), 'content-type': 'application/json' },
      body: JSON.stringify({ rows }),
    });

    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('validates bodies, queries and path parameters with 400 BAD_REQUEST naming the field', async () => {
    const post = (path: string, body: string) =>
      app.request(path, { method: 'POST', headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' }, body });

    expect(
      (await expectError(await post(`${f}/models/2/predict`, JSON.stringify({ rows: [] })), 400, 'BAD_REQUEST')).error.message,
    ).toContain('rows');
    expect(
      (await expectError(await post(`${f}/models/2/predict`, JSON.stringify({ rows: [{ age: 'old' }] })), 400, 'BAD_REQUEST')).error
        .message,
    ).toContain('rows');
    expect(
      (await expectError(await post(`${f}/models/2/predict`, JSON.stringify({ rows: [{ age: 1, income: 2 }] })), 400, 'BAD_REQUEST')).error
        .message,
    ).toContain('bmi');
    expect(
      (
        await expectError(
          await post(`${f}/models/2/predict`, JSON.stringify({ rows: [{ age: 1, income: 2, bmi: 3, height: 4 }] })),
          400,
          'BAD_REQUEST',
        )
      ).error.message,
    ).toContain('height');
    await expectError(await post(`${f}/models/2/predict`, '{not json'), 400, 'BAD_REQUEST');
    expect((await expectError(await post(`${f}/institutions`, JSON.stringify({ id: 'x' })), 400, 'BAD_REQUEST')).error.message).toMatch(
      /signPublicKey|format/,
    );
    const doc = publicIdentityDoc('tampered');
    await expectError(await post(`${f}/institutions`, JSON.stringify({ ...doc, fingerprint: 'wrong' })), 400, 'BAD_REQUEST');
    const get = (path: string) => app.request(path, { headers: bearer(fx.tokens.admin) });
    expect((await expectError(await get(`${f}/audit?limit=-1`), 400, 'BAD_REQUEST')).error.message).toContain('limit');
    await expectError(await get(`${f}/rounds?offset=x`), 400, 'BAD_REQUEST');
    await expectError(await get(`${f}/rounds/1e3`), 400, 'BAD_REQUEST');
    await expectError(await get(`${f}/models/0x1`), 400, 'BAD_REQUEST');
  });

  it('checks the role before validating, so a refused caller learns nothing from validation', async () => {
    const res = await app.request(`${f}/institutions`, {
      method: 'POST',
      headers: { ...bearer(fx.tokens.auditor), 'content-type': 'application/json' },
      body: '{"bad":1}',
    });

    await expectError(res, 403, 'FORBIDDEN');
  });

  it('answers enrolling an institution twice with 409 DUPLICATE, and unknown things with 404', async () => {
    const post = (path: string, body: unknown) =>
      app.request(path, {
        method: 'POST',
        headers: { ...bearer(fx.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const doc = publicIdentityDoc('twice');

    expect((await post(`${f}/institutions`, doc)).status).toBe(201);
    await expectError(await post(`${f}/institutions`, doc), 409, 'DUPLICATE');
    await expectError(await post(`${f}/institutions/nobody/suspend`, {}), 404, 'NOT_FOUND');
    await expectError(await post('/api/federations/none/institutions', publicIdentityDoc('x')), 404, 'NOT_FOUND');
    await expectError(await app.request(`${f}/rounds/9`, { headers: bearer(fx.tokens.admin) }), 404, 'NOT_FOUND');
    await expectError(await app.request('/api/nothing', { headers: bearer(fx.tokens.admin) }), 404, 'NOT_FOUND');
  });
});
