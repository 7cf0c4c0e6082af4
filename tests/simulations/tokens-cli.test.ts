/** `cohort tokens` on a coordinator's database file and `cohort predict` against a served API, run as a user runs them. */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { authenticateToken } from '../../coordinator/auth/index.js';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import { rowsToInput } from '../../coordinator/models/index.js';
import { generateIdentity, writeIdentityFile } from '../../crypto/index.js';
import { FED, SPEC, buildApiFixture, type ApiFixture } from '../coordinator/http/api-fixture.js';
import { runCli } from './cli-helpers.js';

let fx: ApiFixture;
let keyFile: string;
beforeAll(() => {
  fx = buildApiFixture();
  keyFile = join(fx.dir, 'keys', 'coordinator.key.json');
  writeIdentityFile(keyFile, fx.coordinator);
});
afterAll(() => fx?.close());

const TOKEN = /^(cohort_[A-Za-z0-9_-]{43})$/m;

describe('cohort tokens', () => {
  it('creates a token, prints it once, lists it without it, revokes it; each step is in the signed audit chain', async () => {
    const created = await runCli([
      'tokens',
      'create',
      '--role',
      'institution',
      '--institution',
      'site-2',
      '--label',
      'ward 7',
      '--data-dir',
      fx.dir,
      '--key',
      keyFile,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const token = TOKEN.exec(created.stdout)?.[1] as string;
    const id = /token (tok_[0-9a-f]+)/.exec(created.stdout)?.[1] as string;

    const listed = await runCli(['tokens', 'list', '--data-dir', fx.dir, '--json']);
    const revoked = await runCli(['tokens', 'revoke', id, '--data-dir', fx.dir, '--key', keyFile]);

    expect(token).toBeDefined();
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain(token);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({ id, role: 'institution', institutionId: 'site-2', label: 'ward 7', revokedAt: null }),
    );
    expect(revoked.code, revoked.stderr).toBe(0);
    const store = openSqliteStore(join(fx.dir, 'coordinator.db'));
    try {
      expect(authenticateToken(store, token)).toBeNull();
      expect(store.listAudit({ kind: 'token.created' }).at(-1)).toMatchObject({ actor: 'cli', subject: `token:${id}` });
      expect(store.listAudit({ kind: 'token.revoked' }).at(-1)).toMatchObject({ actor: 'cli', subject: `token:${id}` });
      expect(verifyAuditTable(store, fx.coordinator.signPublicKey)).toMatchObject({ ok: true });
    } finally {
      store.close();
    }
  });

  it('a created admin token works on the API', async () => {
    const created = await runCli(['tokens', 'create', '--role', 'admin', '--data-dir', fx.dir, '--key', keyFile]);
    const token = TOKEN.exec(created.stdout)?.[1] as string;

    const res = await fx.api().request('/api/whoami', { headers: { authorization: `Bearer ${token}` } });

    expect(await res.json()).toMatchObject({ role: 'admin', institution: null });
  });

  it("refuses another coordinator's key, an institution token without its institution, and a missing database", async () => {
    const otherKey = join(fx.dir, 'keys', 'other.key.json');
    writeIdentityFile(otherKey, generateIdentity('other'));

    const wrongKey = await runCli(['tokens', 'create', '--role', 'admin', '--data-dir', fx.dir, '--key', otherKey]);
    const unbound = await runCli(['tokens', 'create', '--role', 'institution', '--data-dir', fx.dir, '--key', keyFile]);
    const missing = await runCli(['tokens', 'list', '--data-dir', join(fx.dir, 'nowhere')]);

    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/not the key of the coordinator that runs federation fed/);
    expect(unbound.code).toBe(1);
    expect(unbound.stderr).toMatch(/institution token needs the institution id/);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no coordinator database/);
  });
});

describe('cohort predict', () => {
  let server: ServerType;
  let url: string;
  beforeAll(async () => {
    const app = fx.api();
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('predicts the rows of a CSV through the API (label column left out, accuracy reported), as the model runner does', async () => {
    const csv = join(fx.dir, 'rows.csv');
    const rows = [
      { age: 71, income: 25_000, bmi: 31.5, risk: 'high' },
      { age: 35, income: 60_000, bmi: 21, risk: 'low' },
      { age: 50, income: 42_000, bmi: 26, risk: 'mid' },
    ];
    writeFileSync(csv, `bmi,risk,age,income\n${rows.map((r) => `${r.bmi},${r.risk},${r.age},${r.income}`).join('\n')}\n`);

    const res = await runCli([
      'predict',
      '--model',
      '2',
      '--data',
      csv,
      '--coordinator',
      url,
      '--token',
      fx.tokens.auditor,
      '--label',
      'risk',
      '--json',
    ]);
    const noToken = await runCli(['predict', '--model', '2', '--data', csv, '--coordinator', url, '--label', 'risk']);
    const offline = await runCli([
      'predict',
      '--model',
      join(fx.dir, 'models', FED, 'v2.cohort'),
      '--data',
      csv,
      '--label',
      'risk',
      '--json',
    ]);

    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { federation: string; classes: string[]; probabilities: number[][] };
    const expected = await fx.runner.predict({
      key: 'expected',
      spec: SPEC,
      tensors: fx.weights[2]!,
      x: rowsToInput(
        SPEC,
        rows.map(({ risk: _r, ...x }) => x),
      ),
      rows: 3,
    });
    expect(out).toMatchObject({ federation: FED, classes: SPEC.classes });
    expect(
      out.probabilities
        .flat()
        .map((p, i) => Math.abs(p - expected[i]!))
        .every((d) => d < 1e-6),
    ).toBe(true);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/API token is needed/);
    // The same model file, offline: no coordinator, the same probabilities, and a warning that no signature was checked.
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stderr).toMatch(/without checking its signature \(pass --key/);
    const fromFile = JSON.parse(offline.stdout) as { classes: string[]; probabilities: number[][] };
    expect(fromFile.classes).toEqual(SPEC.classes);
    expect(
      fromFile.probabilities
        .flat()
        .map((p, i) => Math.abs(p - expected[i]!))
        .every((d) => d < 1e-6),
    ).toBe(true);
  });

  it("reports the API's error for a missing feature column or a wrong token", async () => {
    const csv = join(fx.dir, 'partial.csv');
    writeFileSync(csv, 'age,income\n1,2\n');

    const partial = await runCli(['predict', '--model', '2', '--data', csv, '--coordinator', url, '--token', fx.tokens.auditor]);
    const wrong = await runCli(['predict', '--model', '2', '--data', csv, '--coordinator', url, '--token', `cohort_${'x'.repeat(43)}`]);

    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/lacks the model's feature column\(s\) bmi/);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/401 UNAUTHENTICATED/);
  });
});
