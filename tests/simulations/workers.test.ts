import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { resolveWorkers, WORKER_THRESHOLD } from '../../simulations/simulate/agent-fleet.js';
import { runCli, type CliResult } from './cli-helpers.js';

interface Placement {
  mode: string;
  workers: number;
  threads: { worker: number; threadId: number; backend: string; institutions: string[] }[];
}

const INSTITUTIONS = 12;

describe('cohort simulate --workers 2 (12 institutions in 2 worker threads, real coordinator, MNIST logreg, 2 rounds)', () => {
  let root: string;
  let out: string;
  let result: CliResult;
  let summary: {
    rounds: { round: number; participants: number }[];
    model: { version: number; path: string };
    runtime: { agents: Placement };
  };
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'cohort-workers-'));
    out = join(root, 'run');
    const args = [
      'simulate',
      '--out',
      out,
      '--institutions',
      String(INSTITUTIONS),
      '--workers',
      '2',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--local-epochs',
      '1',
      '--batch-size',
      '20',
    ];
    result = await runCli(args, { timeoutMs: 85_000 });
    if (result.code !== 0) throw new Error(`simulate exited ${result.code ?? result.signal}\n${result.stdout}\n${result.stderr}`);
    summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  }, 90_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('publishes both rounds with every institution taking part', () => {
    const store = openSqliteStore(join(out, 'coordinator.db'));
    try {
      const rounds = store.listRounds('simulation');
      const parts = store.listParticipations('simulation');

      expect(rounds.map((r) => [r.round, r.state, r.resultVersion])).toEqual([
        [1, 'published', 1],
        [2, 'published', 2],
      ]);
      expect(parts.filter((p) => p.status === 'accepted')).toHaveLength(2 * INSTITUTIONS);
    } finally {
      store.close();
    }
    expect(summary.rounds.map((r) => r.participants)).toEqual([INSTITUTIONS, INSTITUTIONS]);
    expect(summary.model.version).toBe(2);
    expect(readdirSync(join(out, 'models', 'simulation'))).toContain('v2.cohort');
  });

  it('ran the agents in 2 worker threads (not the main thread), 6 each, every institution exactly once', () => {
    const placement = summary.runtime.agents;

    expect(placement.mode).toBe('worker-threads');
    expect(placement.threads).toHaveLength(2);
    const ids = placement.threads.map((t) => t.threadId);
    expect(new Set(ids).size).toBe(2);
    expect(ids.every((id) => id > 0)).toBe(true); // the main thread's threadId is 0
    expect(placement.threads.map((t) => t.institutions.length)).toEqual([6, 6]);
    const all = placement.threads.flatMap((t) => t.institutions).sort();
    expect(all).toEqual(Array.from({ length: INSTITUTIONS }, (_, i) => `institution-${i + 1}`).sort());
  });

  it('each agent logged from inside its thread (thread id in every line) and trained and sent its updates there', () => {
    for (const thread of summary.runtime.agents.threads) {
      const lines = readFileSync(join(out, 'logs', `agents-worker-${thread.worker}.log`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { name: string; thread: number; msg: string; round?: number });

      expect(lines.every((l) => l.thread === thread.threadId)).toBe(true);
      for (const institution of thread.institutions) {
        const own = lines.filter((l) => l.name === `agent:${institution}`);
        expect(own.filter((l) => l.msg === 'update accepted').map((l) => l.round)).toEqual([1, 2]);
      }
    }
  });
});

describe('how many worker threads a run uses', () => {
  it('uses child processes up to the threshold, one thread per core above it, and what it is told otherwise', () => {
    expect(resolveWorkers(undefined, WORKER_THRESHOLD)).toBe(0);
    expect(resolveWorkers(undefined, WORKER_THRESHOLD + 1)).toBeGreaterThanOrEqual(1);
    expect(resolveWorkers(0, 1000)).toBe(0);
    expect(resolveWorkers(8, 3)).toBe(3);
  });
});
