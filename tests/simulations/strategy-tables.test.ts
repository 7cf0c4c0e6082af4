/** `npm run bench:convergence -- --tables --quick` end to end: both tables through the real coordinator and in-process agents, Byzantine ones included. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL_TABLES, QUICK_TABLES, TABLE_STRATEGIES, tablePlan } from '../../simulations/bench/strategy-plan.js';
import { strategyNames } from '../../coordinator/strategies/index.js';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'cohort-tables-test-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface TablesJson {
  results: {
    run: { table: string; partition: string; strategy: { label: string }; attack?: { kind: string } };
    byzantineSites: number;
    result: { roundsRun: number; byzantinePerRound?: number[]; curve: { accuracy: number }[] };
  }[];
}

describe('the strategy tables plan', () => {
  it('covers every registered strategy on iid, dirichlet:0.1 and shards:2, and both attacks at 10% and 20% for the robust ones', () => {
    const plan = tablePlan(FULL_TABLES);

    expect(TABLE_STRATEGIES.map((c) => c.name).sort()).toEqual([...strategyNames].sort());
    expect(plan.filter((r) => r.table === 'strategies')).toHaveLength(3 * strategyNames.length);
    expect(new Set(plan.map((r) => r.partition))).toEqual(new Set(['iid', 'dirichlet:0.1', 'shards:2']));
    const attacked = plan.filter((r) => r.table === 'robustness');
    expect(attacked).toHaveLength(2 * 2 * 5);
    expect(new Set(attacked.map((r) => `${r.attack?.kind} ${r.byzantineShare}`))).toEqual(
      new Set(['sign-flip 0.1', 'sign-flip 0.2', 'scaled 0.1', 'scaled 0.2']),
    );
    expect(tablePlan(QUICK_TABLES)).toHaveLength(9 + 4);
  });
});

describe('bench:convergence --tables --quick', () => {
  it('runs every planned federation and writes both tables, the JSON and the plot', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'simulations/bench/convergence.ts', '--tables', '--quick', '--out', out],
      { timeout: 400_000, maxBuffer: 16 << 20 },
    );

    for (const f of ['strategy-tables.md', 'strategy-tables.json', 'strategy-tables.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'strategy-tables.json'), 'utf8')) as TablesJson;
    expect(json.results).toHaveLength(13);
    for (const r of json.results) {
      expect(r.result.roundsRun).toBe(1);
      expect(r.result.curve[0]!.accuracy).toBeGreaterThanOrEqual(0);
    }
    // The attacker's update went through the coordinator as an ordinary signed update: 1 of 5 institutions, all in the round.
    for (const r of json.results.filter((x) => x.run.attack)) {
      expect(r.byzantineSites).toBe(1);
      expect(r.result.byzantinePerRound).toEqual([1]);
    }
    for (const r of json.results.filter((x) => !x.run.attack)) expect(r.result.byzantinePerRound).toBeUndefined();

    const md = readFileSync(join(out, 'strategy-tables.md'), 'utf8');
    const rows = md.split('\n').filter((l) => l.startsWith('|'));
    expect(rows[0]).toBe('| strategy | parameters | iid | dirichlet:0.1 | shards:2 |');
    expect(rows.slice(2, 5).map((l) => l.split(' | ')[0])).toEqual(['| FedAvg', '| median', '| Krum']);
    expect(rows[3]).toMatch(/^\| median \| – \| \d\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \|$/);
    expect(rows[4]).toMatch(/^\| Krum \| f=1 \| /);
    expect(rows[5]).toBe('| strategy | no attack | sign flip (−4·δ), 20% Byzantine | scaled (×10), 20% Byzantine |');
    expect(rows[7]).toMatch(/^\| FedAvg \| \d\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \|$/);
    expect(rows[8]).toMatch(/^\| Krum \| \d\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \|$/);
    expect(md).toContain('20%: 1 of 5 institutions, 1.0 Byzantine updates per round on average, at most 1');
    expect(md).toContain('through the real coordinator and 5 real agents');

    expect(readFileSync(join(out, 'strategy-tables.svg'), 'utf8').startsWith('<svg')).toBe(true);
    expect(stdout).toContain('[iid Krum, scaled (×10) at 20%] 1 rounds');
  }, 420_000);
});
