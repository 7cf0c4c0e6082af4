/** What the API's routes answer: pagination, what an institution token sees, audited writes, audit verification, metrics and the OpenAPI document. */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, revokeApiToken } from '../../../coordinator/auth/index.js';
import { FED, bearer, buildApiFixture, publicIdentityDoc, type ApiFixture } from './api-fixture.js';

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
