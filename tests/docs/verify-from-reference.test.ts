/** docs/reference/signatures.md is enough to verify a run with no Cohort code: a Python verifier written from it alone checks a real run. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../protocol/index.js';
import { runCli, writeTabularCsv } from '../simulations/cli-helpers.js';

const SCRIPT = fileURLToPath(new URL('./verify_from_reference.py', import.meta.url));

/** Why the Python side cannot run here, or null when python3 with `cryptography` is available. */
function pythonMissing(): string | null {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
  if (probe.error) return 'python3 is not installed';
  if (probe.status !== 0) return "python3's cryptography package is not installed (Debian: python3-cryptography)";
  return null;
}

const missing = pythonMissing();
if (missing) console.warn(`tests/docs/verify-from-reference.test.ts skipped: ${missing}`);

interface Report {
  ok: boolean;
  failures: string[];
  models: number;
  cards: number;
  consents: number;
  revocations: number;
  auditEvents: number;
  siteLogEvents: number;
  tamperDetected: Record<string, boolean>;
}

describe.skipIf(missing !== null)('the signatures reference, used with no Cohort code', () => {
  let root: string;
  let run: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'cohort-docs-verify-'));
    run = join(root, 'run');
    // A tabular study: its model spec carries a z-score of awkward floats, so the canonical number format is exercised.
    const csv = join(root, 'risk.csv');
    const data = writeTabularCsv(csv, 300, 1);
    const args = [
      'simulate',
      '--out',
      run,
      '--dataset',
      `csv:${csv}`,
      '--label',
      data.label,
      '--model',
      'logreg',
      '--institutions',
      '3',
      '--rounds',
      '2',
      '--local-epochs',
      '1',
      '--revoke',
      'institution-3@2',
    ];
    const result = await runCli(args, { timeoutMs: 55_000 });
    if (result.code !== 0)
      throw new Error(`cohort ${args.join(' ')} exited ${result.code ?? result.signal}\n${result.stdout}\n${result.stderr}`);
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('verifies every model file, model card, consent, revocation and audit event of a real run, and catches one flipped byte in each', () => {
    const child = spawnSync('python3', [SCRIPT, run], { encoding: 'utf8' });
    if (!child.stdout.trim()) throw new Error(`the verifier printed no report (exit ${child.status}):\n${child.stderr}`);
    const report = JSON.parse(child.stdout) as Report;

    expect(report.failures).toEqual([]);
    expect(child.status).toBe(0);
    expect(report.models).toBe(3); // v0, v1, v2
    expect(report.cards).toBe(2);
    expect(report.consents).toBe(6); // 3 sites' files, 3 rows of the coordinator's table
    expect(report.revocations).toBe(1);
    expect(report.auditEvents).toBeGreaterThan(20);
    expect(report.siteLogEvents).toBeGreaterThan(5);
    expect(Object.keys(report.tamperDetected).sort()).toEqual(
      [
        'auditData',
        'auditRemoved',
        'auditSignature',
        'card',
        'consent',
        'modelData',
        'modelHeader',
        'modelOtherVersion',
        'modelSignature',
        'modelTrailer',
      ].sort(),
    );
    expect(Object.values(report.tamperDetected).every(Boolean)).toBe(true);
  });

  it("writes numbers, strings and key order exactly as Cohort's canonical JSON does, following the reference's rules", () => {
    const values: unknown[] = [
      [
        0,
        -0,
        1,
        -1,
        2400,
        0.5,
        12.25,
        1.5,
        0.1,
        1 / 3,
        2 / 3,
        123.456,
        1e-5,
        1e-6,
        1e-7,
        1.5e-7,
        0.000123,
        1e20,
        1e21,
        1.2345678901234568e20,
        5e-324,
        1.7976931348623157e308,
        -1e-7,
        1796530529204,
        2 ** 53,
        43222.1125,
      ],
      { b: [3, { d: null, c: 'x' }], a: 1e-7, A: 0.5, Z: true, é: false, ab: 1, '': 'é\u2028/\u0001\n\t"\\' },
      { 'z\u{1F600}': 1, 'z\uFFFF': 2, zz: 3 },
    ];
    const lines = values.map((v) => JSON.stringify(v)).join('\n');

    const python = execFileSync('python3', [SCRIPT, '--canonical'], { input: lines, encoding: 'utf8' }).trim().split('\n');

    expect(python).toEqual(values.map((v) => canonicalJson(v)));
  });
});
