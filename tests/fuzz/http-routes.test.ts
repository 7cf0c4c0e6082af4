/** Fuzzing every REST route the app has (read from the app itself, so routes added later are covered): 4xx JSON with a code, never a 500, never a crash. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { bearer, buildApiFixture, FED } from '../coordinator/http/api-fixture.js';
import { FUZZ_SEED, KNOWN_CODES, heapAfterGc, mutated, reportFuzz, runs, weirdValue } from './fuzz-report.js';

const fx = buildApiFixture();
const app = fx.api();
const counts: Record<string, number> = {};
const byStatus: Record<string, number> = {};
afterAll(() => {
  fx.close();
  reportFuzz('http-routes', counts, { byStatus, routes: routes.map((r) => `${r.method} ${r.path}`) });
});

/** The app's own route table, without middleware entries (method ALL) and wildcards. */
const routes = [
  ...new Map(
    app.routes
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => [`${r.method} ${r.path}`, { method: r.method, path: r.path }]),
  ).values(),
];

const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(FED, '1', '2', '0', 'site-1') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '-1',
      '1e3',
      '0x10',
      '99999999999999999999',
      '1.5',
      'NaN',
      '..',
      '%00',
      '%2e%2e',
      '%ZZ',
      ' ',
      'a'.repeat(5000),
      '%F0%9F%98%80',
      'site-1%2F..%2F..',
      'null',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s) || 'x') },
);
const token = fc.oneof(
  fc.constantFrom(fx.tokens.admin, fx.tokens.auditor, fx.tokens.site1, fx.tokens.site2).map((t) => bearer(t)),
  fc.constantFrom(
    {},
    { authorization: 'Bearer' },
    { authorization: 'Basic YTpi' },
    { authorization: `Bearer ${'x'.repeat(5000)}` },
    { authorization: 'Bearer cohort_0000' },
    { authorization: `bearer ${fx.tokens.admin}x` },
  ),
);
const jsonBody = fc.oneof(
  mutated({ id: 'site-3', publicIdentity: { format: 'cohort-public-identity/v1' }, inputs: [[1, 2, 3]], rows: [{ age: 1 }], key: 'abc' }),
  weirdValue,
);
const body = fc.oneof(
  { weight: 4, arbitrary: jsonBody.map((v) => ({ text: JSON.stringify(v) ?? 'null', type: 'application/json' })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('{', '{"a":', '\u0000', '[1,2', 'null', '"', 'x'.repeat(2 << 20))
      .map((text) => ({ text, type: 'application/json' })),
  },
  {
    weight: 1,
    arbitrary: fc.string({ maxLength: 100 }).map((text) => ({
      text,
      type: fc.sample(
        fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/octet-stream', ''),
        1,
      )[0] as string,
    })),
  },
);
const query = fc.dictionary(
  fc.constantFrom('limit', 'offset', 'after', 'kind', 'actor', 'round', 'format', 'x'),
  fc.oneof(segment, fc.constantFrom('-5', '1e9', '')),
  { maxKeys: 3 },
);

const request = fc.record({
  route: fc.constantFrom(...routes),
  params: fc.array(segment, { minLength: 4, maxLength: 4 }),
  method: fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
  ),
  headers: token,
  body: fc.option(body, { nil: undefined }),
  query,
  suffix: fc.constantFrom('', '', '', '/', '/x', '//', '/../..'),
});

/** Every error leaves as `{ error: { code, message } }` with a known code; nothing is a 5xx (501 is a deliberate "not implemented"). */
async function expectWellFormed(res: Response, what: string, method = 'GET'): Promise<void> {
  byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
  expect(
    res.status === 501 || res.status < 500,
    `${what} -> ${res.status}: ${await res
      .clone()
      .text()
      .then((t) => t.slice(0, 300))}`,
  ).toBe(true);
  if (method === 'HEAD') return; // no body to read
  if (res.status >= 400 && res.headers.get('content-type')?.includes('json')) {
    const json = (await res.json()) as { error?: { code?: string; message?: string } };
    expect(KNOWN_CODES.has(json.error?.code ?? 'none'), `${what}: ${JSON.stringify(json).slice(0, 300)}`).toBe(true);
    expect(typeof json.error?.message).toBe('string');
  } else if (res.status >= 400) {
    expect(res.status, `${what}: a ${res.status} without a JSON body`).toBe(405); // hono's bare method-not-allowed is the one exception
  }
}

describe('the REST API under fuzzing', () => {
  it(`answers fuzzed requests to every route (${routes.length}) with a well-formed response`, async () => {
    expect(routes.length).toBeGreaterThan(8);
    const heapBefore = heapAfterGc();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let i = 0;
        const path = r.route.path.replace(/:[A-Za-z_]+(\{[^}]*\})?/g, () => r.params[i++] as string) + r.suffix;
        const qs = new URLSearchParams(r.query).toString();
        const method = r.method ?? r.route.method;
        count(`${r.route.method} ${r.route.path}`);
        const init: RequestInit = {
          method,
          headers: { ...(r.headers as Record<string, string>), ...(r.body ? { 'content-type': r.body.type } : {}) },
        };
        if (r.body && method !== 'GET' && method !== 'HEAD') init.body = r.body.text;
        const res = await app.request(`${path}${qs ? `?${qs}` : ''}`, init);
        await expectWellFormed(res, `${method} ${path.slice(0, 120)}`, method);
      }),
      { seed: FUZZ_SEED, numRuns: runs(700) },
    );
    expect(heapAfterGc() - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect((await app.request('/health')).status).toBe(200);
  });

  it('answers random paths outside the route table with a JSON 404 (or 401 under /api without a token)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { maxLength: 6 }),
        fc.constantFrom('', '/api', '/api/federations'),
        token,
        async (parts, prefix, headers) => {
          count('random-path');
          const res = await app.request(`${prefix}/${parts.join('/')}`, { headers: headers as Record<string, string> });
          await expectWellFormed(res, `GET ${prefix}/${parts.join('/').slice(0, 100)}`);
        },
      ),
      { seed: FUZZ_SEED, numRuns: runs(200) },
    );
  });
});

function count(name: string): void {
  counts[name] = (counts[name] ?? 0) + 1;
}
