/** The API in-process (hono's app.request): every route's access control, tokens, rate limits, bodies and validation; what the routes answer; an empty store. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type Store } from '../../../coordinator/index.js';
import { createApi } from '../../../coordinator/http/app.js';
import { createApiToken, revokeApiToken } from '../../../coordinator/auth/index.js';
import type { ApiRole } from '../../../coordinator/store/index.js';
import { PROTOCOL_VERSION } from '../../../protocol/index.js';
import { FED, bearer, buildApiFixture, publicIdentityDoc, withToken, type ApiFixture } from './api-fixture.js';

interface ErrorBody {
  error: { code: string; message: string };
}

describe('access control: every route without a token, with a role it refuses and with one it serves', () => {
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

  const tokenOf = (role: ApiRole): string =>
    role === 'admin' ? fx.tokens.admin : role === 'auditor' ? fx.tokens.auditor : fx.tokens.site1;

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
      const { token } = (await import('../../../coordinator/auth/index.js')).createApiToken(fx.store, { role: 'auditor' }, 'test');
      expect((await app.request('/api/whoami', { headers: bearer(token) })).status).toBe(200);
      revokeApiToken(
        fx.store,
        fx.store.getApiTokenByHash((await import('../../../coordinator/auth/index.js')).hashToken(token))!.id,
        'test',
      );

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
        (await expectError(await post(`${f}/models/2/predict`, JSON.stringify({ rows: [{ age: 1, income: 2 }] })), 400, 'BAD_REQUEST'))
          .error.message,
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
});

describe('what the routes answer: pages, an institution token, audited writes, audit verification, metrics, OpenAPI', () => {
  let fx: ApiFixture;
  let app: ReturnType<ApiFixture['api']>;
  beforeAll(() => {
    fx = buildApiFixture();
    app = fx.api();
  });
  afterAll(() => fx?.close());

  const f = `/api/federations/${FED}`;
  const get = async <T = Record<string, any>>(path: string, token: string): Promise<T> => {
    const res = await app.request(path, { headers: bearer(token) });
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
    return (await res.json()) as T;
  };
  const post = (path: string, token: string, body?: unknown) =>
    app.request(path, {
      method: 'POST',
      headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  describe('rounds and audit pages', () => {
    it('pages rounds in order with their policy decisions counted as rules passed and failed', async () => {
      const page = await get(`${f}/rounds?limit=1&offset=1`, fx.tokens.auditor);
      const one = await get(`${f}/rounds/1`, fx.tokens.auditor);

      expect(page).toMatchObject({ total: 2, limit: 1, offset: 1 });
      expect(page.rounds.map((r: { round: number }) => r.round)).toEqual([2]);
      expect(page.rounds[0]).toMatchObject({ state: 'published', rulesPassed: 1, rulesFailed: 1, selected: ['site-1', 'site-2'] });
      expect(page.rounds[0].participations.map((p: { institutionId: string }) => p.institutionId)).toEqual(['site-1', 'site-2']);
      expect(one).toMatchObject({ round: 1, rulesPassed: 2, rulesFailed: 0, metrics: { participants: 2 } });
    });

    it('pages audit events newest first as { items, total, limit, offset }, filtered by kind, text and institution', async () => {
      const all = await get(`${f}/audit?limit=1000`, fx.tokens.auditor);
      const page = await get(`${f}/audit?limit=2&offset=1`, fx.tokens.auditor);
      const accepted = await get(`${f}/audit?kind=update.accepted`, fx.tokens.auditor);
      const bySite = await get(`${f}/audit?institution=site-2&kind=update.accepted`, fx.tokens.auditor);
      const text = await get(`${f}/audit?q=ROUND:2`, fx.tokens.auditor);

      expect(all.total).toBe(all.items.length);
      expect(all.items.map((e: { id: number }) => e.id)).toEqual(
        [...all.items.map((e: { id: number }) => e.id)].sort((a: number, b: number) => b - a),
      );
      expect(page).toMatchObject({ total: all.total, limit: 2, offset: 1 });
      expect(page.items.map((e: { id: number }) => e.id)).toEqual(all.items.slice(1, 3).map((e: { id: number }) => e.id));
      expect(accepted.total).toBe(4);
      expect(accepted.items.every((e: { kind: string }) => e.kind === 'update.accepted')).toBe(true);
      expect(bySite.items.map((e: { actor: string }) => e.actor)).toEqual(['site-2', 'site-2']);
      expect(text.items.length).toBeGreaterThanOrEqual(3);
      expect(text.items.every((e: { subject: string }) => e.subject === 'round:2')).toBe(true);
      expect(all.items[0]).toHaveProperty('hash');
    });
  });

  describe('an institution token sees only its own records', () => {
    it('its federations, itself among the institutions, its consents, its participations, its audit events, its lineage', async () => {
      const t = fx.tokens.site1;
      const fed = await get(f, t);
      const { institutions } = await get(`${f}/institutions`, t);
      const { consents } = await get(`${f}/consents`, t);
      const { rounds } = await get(`${f}/rounds`, t);
      const audit = await get(`${f}/audit?limit=1000`, t);
      const lineage = await get(`${f}/models/2/lineage`, t);
      const staffLineage = await get(`${f}/models/2/lineage`, fx.tokens.auditor);

      expect(fed.institutions.map((i: { id: string }) => i.id)).toEqual(['site-1']);
      expect(institutions.map((i: { id: string }) => i.id)).toEqual(['site-1']);
      expect(institutions[0]).toMatchObject({ online: true, status: 'active' });
      expect(institutions[0].signPublicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(consents.map((c: { institution: string }) => c.institution)).toEqual(['site-1']);
      for (const r of rounds) {
        expect(r.selected).toEqual(['site-1']);
        expect(r.participations.map((p: { institutionId: string }) => p.institutionId)).toEqual(['site-1']);
      }
      expect(audit.total).toBeGreaterThan(0);
      expect(audit.items.every((e: { actor: string; subject: string }) => e.actor === 'site-1' || e.subject === 'site-1')).toBe(true);
      expect(lineage.institutions.map((i: { institution: string }) => i.institution)).toEqual(['site-1']);
      expect(staffLineage.institutions.map((i: { institution: string }) => i.institution)).toEqual(['site-1', 'site-2']);
    });

    it("is refused another institution's audit events, and sees no federation it is not enrolled in", async () => {
      const now = Date.now();
      const base = fx.store.getFederation(FED)!;
      fx.store.createFederation({ ...base, id: 'other', name: 'other', createdAt: now, updatedAt: now });
      fx.store.upsertInstitution({ ...fx.store.getInstitution(FED, 'site-2')!, federationId: 'other' });

      const res = await app.request(`${f}/audit?institution=site-2`, { headers: bearer(fx.tokens.site1) });
      const mine = await get<{ federations: { id: string }[] }>('/api/federations', fx.tokens.site1);
      const theirs = await get<{ federations: { id: string }[] }>('/api/federations', fx.tokens.site2);
      const hidden = await app.request('/api/federations/other/rounds', { headers: bearer(fx.tokens.site1) });

      expect(res.status).toBe(403);
      expect(mine.federations.map((x) => x.id)).toEqual([FED]);
      expect(theirs.federations.map((x) => x.id).sort()).toEqual([FED, 'other']);
      expect(hidden.status).toBe(404);
      expect((await get<{ federations: unknown[] }>('/api/federations', fx.tokens.auditor)).federations).toHaveLength(2);
    });
  });

  describe('writes are audited', () => {
    const events = (kind: string) => fx.store.listAudit({ kind });

    it('enrol, suspend and reactivate record who did it; a suspended institution shows as suspended', async () => {
      const doc = publicIdentityDoc('hospital-z');

      const enrolled = await post(`${f}/institutions`, fx.tokens.admin, doc);
      const suspended = await post(`${f}/institutions/hospital-z/suspend`, fx.tokens.admin, { reason: 'key lost' });
      const status = fx.store.getInstitution(FED, 'hospital-z')?.status;
      const reactivated = await post(`${f}/institutions/hospital-z/reactivate`, fx.tokens.admin);

      expect(enrolled.status).toBe(201);
      expect(await enrolled.json()).toMatchObject({ id: 'hospital-z', fingerprint: doc.fingerprint, status: 'active', online: false });
      expect(suspended.status).toBe(200);
      expect(status).toBe('suspended');
      expect(reactivated.status).toBe(200);
      expect(fx.store.getInstitution(FED, 'hospital-z')?.status).toBe('active');
      const actor = `token:${fx.tokenIds.admin}`;
      expect(events('institution.enrolled').at(-1)).toMatchObject({
        federationId: FED,
        actor,
        subject: 'hospital-z',
        data: { fingerprint: doc.fingerprint },
      });
      expect(events('institution.suspended').at(-1)).toMatchObject({
        actor,
        subject: 'hospital-z',
        data: { reason: 'key lost', status: 'suspended' },
      });
      expect(events('institution.reactivated').at(-1)).toMatchObject({ actor, subject: 'hospital-z', data: { status: 'active' } });
    });

    it('token creation and revocation are audited without the token', () => {
      const { token, record } = createApiToken(fx.store, { role: 'institution', institution: 'site-2', label: 'ward' }, 'cli');
      revokeApiToken(fx.store, record.id, 'cli');

      expect(events('token.created').at(-1)).toMatchObject({
        actor: 'cli',
        subject: `token:${record.id}`,
        data: { role: 'institution', institution: 'site-2', label: 'ward' },
      });
      expect(events('token.revoked').at(-1)).toMatchObject({ subject: `token:${record.id}` });
      expect(JSON.stringify(fx.store.listAudit())).not.toContain(token);
      expect(JSON.stringify(fx.store.listApiTokens())).not.toContain(token);
    });

    it('a model download is audited with the token that fetched it', async () => {
      const res = await app.request(`${f}/models/2/weights`, { headers: bearer(fx.tokens.site2) });

      expect(res.status).toBe(200);
      expect(events('model.downloaded').at(-1)).toMatchObject({ subject: 'model:2', data: { version: 2, token: fx.tokenIds.site2 } });
    });
  });

  describe('POST /audit/verify', () => {
    it("verifies the whole chain, then names the first event edited behind the API's back", async () => {
      const ok = await post(`${f}/audit/verify`, fx.tokens.auditor);
      const okBody = (await ok.json()) as Record<string, unknown>;

      expect(ok.status).toBe(200);
      expect(okBody).toMatchObject({ ok: true, brokenAt: null, reason: null });
      expect(okBody.entries).toBe(fx.store.countAudit() - 1); // the verification is itself audited after it ran
      expect(fx.store.listAudit({ kind: 'audit.verified' }).at(-1)).toMatchObject({
        actor: `token:${fx.tokenIds.auditor}`,
        data: { ok: true },
      });

      const raw = new Database(join(fx.dir, 'coordinator.db'));
      raw.prepare('UPDATE audit SET data = ? WHERE id = 3').run('{"edited":true}');
      raw.close();
      const broken = (await (await post(`${f}/audit/verify`, fx.tokens.admin)).json()) as Record<string, unknown>;

      expect(broken).toMatchObject({ ok: false, brokenAt: 3, entries: 2 });
      expect(broken.reason).toMatch(/HASH/);
    });
  });

  describe('GET /metrics', () => {
    it('needs a token when the caller is not on loopback (in-process requests have no address), and then speaks Prometheus text', async () => {
      const refused = await app.request('/metrics');
      const res = await app.request('/metrics', { headers: bearer(fx.tokens.site1) });
      const text = await res.text();

      expect(refused.status).toBe(401);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(text).toContain('# TYPE cohort_rounds gauge');
      expect(text).toContain(`cohort_rounds{federation="${FED}",state="published"} 2`);
      expect(text).toContain(`cohort_updates_total{federation="${FED}",status="accepted"} 4`);
      expect(text).toContain(`cohort_upload_bytes_total{federation="${FED}"} ${2 * (1000 + 1001)}`);
      expect(text).toContain(`cohort_institutions_online{federation="${FED}"} 1`);
      expect(text).toMatch(/^cohort_audit_entries \d+$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
      for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+)$/);
    });
  });

  describe('GET /openapi.json', () => {
    it('documents every registered route, with the bearer scheme on every /api route', async () => {
      const doc = (await (await app.request('/openapi.json')).json()) as {
        openapi: string;
        paths: Record<string, Record<string, { security?: unknown[] }>>;
        components: { securitySchemes: Record<string, unknown> };
      };
      const documented = new Set(
        Object.entries(doc.paths).flatMap(([path, ops]) =>
          Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
        ),
      );
      const registered = new Set(
        app.routes.filter((r) => r.method !== 'ALL' && r.path !== '/openapi.json').map((r) => `${r.method} ${r.path}`),
      );

      expect(doc.openapi).toBe('3.1.0');
      expect([...registered].filter((r) => !documented.has(r))).toEqual([]);
      expect([...documented].filter((r) => !registered.has(r))).toEqual([]);
      expect(registered.size).toBeGreaterThanOrEqual(20);
      expect(doc.components.securitySchemes.Bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const [path, ops] of Object.entries(doc.paths)) {
        if (path.startsWith('/api/')) for (const op of Object.values(ops)) expect(op.security, path).toEqual([{ Bearer: [] }]);
      }
      expect(JSON.stringify(doc.paths['/api/federations/{id}/models/{version}/predict'])).toContain('PredictRequest');
    });
  });
});

describe('REST API on an empty store', () => {
  let dir: string;
  let store: Store;
  let app: ReturnType<typeof withToken>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cohort-http-'));
    store = openSqliteStore(join(dir, 'coordinator.db'));
    const api = createApi({ store, dataDir: dir, coordinatorSignPublicKey: 'AAAA', online: () => [], startedAt: Date.now() - 1000 });
    app = withToken(api, createApiToken(store, { role: 'auditor' }, 'test').token);
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /health with the protocol version, uptime and the coordinator key', async () => {
    const res = await app.request('/health');

    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, protocolVersion: PROTOCOL_VERSION, coordinatorSignPublicKey: 'AAAA' });
    expect(body.uptimeMs).toBeGreaterThanOrEqual(1000);
  });

  it('lists no federations', async () => {
    const res = await app.request('/api/federations');

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ federations: [] });
  });

  it('answers an unknown federation, and its sub-resources, with 404 NOT_FOUND as JSON', async () => {
    for (const path of [
      '/api/federations/nope',
      '/api/federations/nope/study',
      '/api/federations/nope/rounds',
      '/api/federations/nope/models',
      '/api/federations/nope/models/0/weights',
    ]) {
      const res = await app.request(path);

      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('NOT_FOUND');
      expect(body.error.message).toContain('nope');
    }
  });

  it('answers an unknown route with 404 NOT_FOUND as JSON', async () => {
    const res = await app.request('/api/nothing-here');

    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.code).toBe('NOT_FOUND');
  });
});
