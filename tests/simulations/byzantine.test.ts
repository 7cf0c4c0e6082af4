/** `cohort simulate --byzantine`: malicious simulated sites, and what the run reports about them. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import type { ByzantineReport } from '../../simulations/simulate/byzantine-report.js';
import { assignAttackers, attackFor, parseByzantine } from '../../simulations/simulate/byzantine-sites.js';
import { runCli } from './cli-helpers.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cohort-byzantine-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const tensor = (...v: number[]) => [{ name: 'w', shape: [v.length], data: Float32Array.from(v) }];

describe('--byzantine flags', () => {
  it('parse ATTACK:COUNT, give the last institutions the attacks, and build each transform', () => {
    expect(parseByzantine('constant=1e30:2')).toEqual({ attack: 'constant=1e30', count: 2 });
    expect(parseByzantine('sign-flip')).toEqual({ attack: 'sign-flip', count: 1 });
    expect([...assignAttackers([parseByzantine('scale=10:1'), parseByzantine('noise=0.5:2')], 5)]).toEqual([
      [4, 'scale=10'],
      [3, 'noise=0.5'],
      [2, 'noise=0.5'],
    ]);
    const input = { round: 1, global: tensor(1, 1), trained: tensor(2, 3) };
    expect([...attackFor('sign-flip=2', 0).transform(input)[0]!.data]).toEqual([-1, -3]);
    expect([...attackFor('scale=10', 0).transform(input)[0]!.data]).toEqual([11, 21]);
    expect([...attackFor('constant=1e30', 0).transform(input)[0]!.data]).toEqual([1e30, 1e30].map(Math.fround));
    expect([...attackFor('noise=1', 7).transform(input)[0]!.data]).toEqual([...attackFor('noise=1', 7).transform(input)[0]!.data]);
  });

  it.each([
    ['nope:1', /unknown attack nope: one of sign-flip\[=k\], scale=S, noise=STD, constant=V/],
    ['scale:1', /attack scale needs a value/],
    ['scale=x:1', /x is not a finite number/],
    ['scale=10:0', /COUNT must be a whole number of sites of at least 1/],
  ])('refuses %s with the reason', (flag, reason) => {
    expect(() => parseByzantine(flag)).toThrow(reason);
  });

  it('refuses as many malicious sites as institutions', () => {
    expect(() => assignAttackers([{ attack: 'scale=2', count: 3 }], 3)).toThrow(/3 malicious sites of 3 institutions leaves no honest one/);
  });
});

describe('cohort simulate --byzantine (MNIST, 4 institutions, 2 rounds, logreg)', () => {
  it('names the malicious sites, the updates the coordinator refused, and whether the final model survived', async () => {
    const out = join(root, 'attack');
    const args = [
      'simulate',
      '--institutions',
      '4',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--local-epochs',
      '1',
      '--byzantine',
      'constant=1e30:1',
      '--byzantine',
      'sign-flip:1',
      '--out',
      out,
    ];

    const result = await runCli(args, { timeoutMs: 120_000 });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('institution-3 is malicious: it sends sign-flip instead of its update');
    expect(result.stdout).toContain('institution-4 is malicious: it sends constant=1e30 instead of its update');
    expect(result.stdout).toMatch(
      /round 1: refused institution-4 UPDATE_NORM_EXCEEDED\n\s+round 2: refused institution-4 UPDATE_NORM_EXCEEDED/,
    );
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { byzantine: ByzantineReport };
    const report = summary.byzantine;
    expect(report.malicious).toEqual([
      { institution: 'institution-3', attack: 'sign-flip' },
      { institution: 'institution-4', attack: 'constant=1e30' },
    ]);
    expect(report.refused).toEqual([
      { round: 1, institution: 'institution-4', code: 'UPDATE_NORM_EXCEEDED', malicious: true },
      { round: 2, institution: 'institution-4', code: 'UPDATE_NORM_EXCEEDED', malicious: true },
    ]);
    // A sign flip is as long as an honest update: no norm bound can tell it apart, and it is reported as accepted.
    expect(report.maliciousAccepted).toEqual([
      { round: 1, institution: 'institution-3' },
      { round: 2, institution: 'institution-3' },
    ]);
    expect(report.honestRefused).toBe(0);
    expect(report.survived).toBe(true);
    expect(report.finalAccuracy).toBeGreaterThan(0.5);
  });

  it('applies the study bound of --max-update-norm from round 1, where the default bound would let a tenfold update in', async () => {
    const out = join(root, 'study-bound');
    const args = [
      'simulate',
      '--institutions',
      '4',
      '--rounds',
      '1',
      '--model',
      'logreg',
      '--local-epochs',
      '1',
      '--max-update-norm',
      '20',
      '--byzantine',
      'scale=10:1',
      '--out',
      out,
    ];

    const result = await runCli(args, { timeoutMs: 120_000 });

    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { byzantine: ByzantineReport };
    expect(summary.byzantine.refused).toEqual([{ round: 1, institution: 'institution-4', code: 'UPDATE_NORM_EXCEEDED', malicious: true }]);
    const store = openSqliteStore(join(out, 'coordinator.db'));
    try {
      expect(store.getFederation('simulation')!.manifest.updateBound).toEqual({ maxUpdateNorm: 20 });
      const refused = store.listAudit({ federationId: 'simulation' }).find((e) => e.kind === 'update.refused');
      expect(refused?.data).toMatchObject({ bound: 20, boundSource: 'rules' });
      expect(refused?.data.norm).toBeLessThan(Math.sqrt(7850)); // below the default first-round bound
    } finally {
      store.close();
    }
  });

  it('refuses a malformed --byzantine before anything starts', async () => {
    const result = await runCli(['simulate', '--byzantine', 'flood=3:1', '--out', join(root, 'bad')]);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown attack flood=3: one of sign-flip\[=k\], scale=S, noise=STD, constant=V/);
  });
});
