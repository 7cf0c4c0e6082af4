/** A run folder holds one run: simulate refuses a folder that already holds one instead of resuming a finished federation and waiting forever. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cohort-run-folder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cohort simulate --out', () => {
  it('refuses a folder that already holds a run, naming it, before starting anything', async () => {
    const out = join(dir, 'run');
    await runCli(['simulate', '--institutions', '2', '--rounds', '1', '--local-epochs', '1', '--out', out], { timeoutMs: 60_000 }).then(
      (first) => {
        if (first.code !== 0) throw new Error(`first run exited ${first.code}\n${first.stderr}`);
      },
    );

    const second = await runCli(['simulate', '--institutions', '2', '--rounds', '1', '--local-epochs', '1', '--out', out], {
      timeoutMs: 20_000,
    });

    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already holds a run \(coordinator\.db\): choose another folder or remove it/);
  });
});
