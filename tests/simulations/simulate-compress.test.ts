/** `cohort simulate --compress`: the study states the term, summary.json records each round's upload bytes, bad values and secure aggregation are refused by name. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { runCli } from './cli-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'cohort-compress-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cohort simulate --compress', () => {
  it('int8: the manifest states it, and summary.json rounds carry uploadBytes, the sealed bytes the coordinator stored, a quarter of float32', async () => {
    const out = join(root, 'int8');
    const res = await runCli(
      ['simulate', '--out', out, '--institutions', '2', '--rounds', '2', '--model', 'logreg', '--local-epochs', '1', '--compress', 'int8'],
      { timeoutMs: 60_000 },
    );
    expect(res.code, res.stderr).toBe(0);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { rounds: { round: number; uploadBytes: number }[] };
    const store = openSqliteStore(join(out, 'coordinator.db'));
    try {
      expect(store.getFederation('simulation')!.manifest.training.compress).toBe('int8');
      for (const { round, uploadBytes } of summary.rounds) {
        const stored = store.listParticipations('simulation', round).reduce((n, p) => n + (p.bytes ?? 0), 0);
        expect(uploadBytes).toBe(stored);
        // Two sites, 7,850 logreg parameters: 31,400 bytes each as float32, about 7,900 as int8 with the envelope.
        expect(uploadBytes).toBeGreaterThan(2 * 7850);
        expect(uploadBytes).toBeLessThan(2 * 0.3 * 31_400);
      }
    } finally {
      store.close();
    }
  }, 90_000);

  it('refuses a value that is not a mode, naming it, and compression under secure aggregation, saying why', async () => {
    const bad = await runCli(['simulate', '--out', join(root, 'bad'), '--compress', 'int4'], { timeoutMs: 30_000 });
    const secure = await runCli(
      [
        'simulate',
        '--out',
        join(root, 'secagg'),
        '--institutions',
        '3',
        '--rounds',
        '1',
        '--model',
        'logreg',
        '--compress',
        'topk:0.1',
        '--secagg',
      ],
      { timeoutMs: 30_000 },
    );

    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/compression "int4" is not one of none, fp16, int8, topk:FRACTION/);
    expect(secure.code).not.toBe(0);
    expect(secure.stderr).toMatch(/topk:0\.1 cannot be combined with secure aggregation/);
  }, 60_000);
});
