/**
 * Faults of the coordinator's storage: its SQLite database locked by another connection, and a full disk. The
 * disk is simulated with a file-size limit (RLIMIT_FSIZE, set on this process with `prlimit`): every write past
 * the limit fails with EFBIG, which SQLite reports as SQLITE_IOERR_WRITE, as it would ENOSPC. The coordinator
 * refuses the work with UNAVAILABLE, takes nothing, corrupts nothing, and the agents come back by themselves.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import { e2e, permissivePolicy, startAgent, type Cohort, type Federation } from './helpers.js';
import { expectCountedOnce, latch, shiftTrainer } from './faults-helpers.js';

const oneRound = { rounds: 1, minParticipants: 2, joinGraceMs: 20_000, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } };

/** A coordinator whose error log lines are kept, two sites shifting weights by +0.01 and -0.03; site 2 waits for `gate`. */
async function setUp(cohort: Cohort, gate: Promise<void>) {
  const errors: string[] = [];
  const log = pino({ level: 'error' }, new Writable({ write: (chunk, _enc, next) => (errors.push(String(chunk)), next()) }));
  const f = await cohort.federation(2, oneRound, 'logreg', 60, permissivePolicy, { log });
  const first = startAgent(f, 0, { valFraction: 0, auditLog: undefined, trainer: shiftTrainer(0.01) });
  // No agent audit logs: under a file-size limit on this process the sites' own writes would fail too.
  const second = startAgent(f, 1, { valFraction: 0, auditLog: undefined, trainer: shiftTrainer(-0.03, () => gate) });
  cohort.agents.push(first, second);
  await new Promise((resolve) => first.events.once('uploaded', resolve));
  return { f, second, errors };
}

/** Both updates counted once, the database intact, the audit chain whole. */
function expectIntact(f: Federation): void {
  expectCountedOnce(f);
  const { store } = f.coordinator;
  const db = new Database(join(f.dir, 'coordinator.db'), { readonly: true });
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  db.close();
  expect(verifyAuditTable(store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
}

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
/** Sets this process's file-size limit (soft; the hard limit stays unlimited, so it can be lifted again). */
const fileSizeLimit = (soft: string): void => {
  const res = spawnSync('prlimit', ['--pid', String(process.pid), `--fsize=${soft}:unlimited`]);
  if (res.status !== 0) throw new Error(`prlimit failed: ${String(res.stderr)}`);
};

describe('the coordinator when it cannot store anything', () => {
  e2e(
    'with its database locked by another connection (BEGIN EXCLUSIVE), refuses an update with UNAVAILABLE without counting it, and takes it once when the site sends it again',
    async ({ cohort }) => {
      const gate = latch();
      const { f, second, errors } = await setUp(cohort, gate.promise);
      const locker = new Database(join(f.dir, 'coordinator.db'));
      cohort.track(locker);
      const sent = { commit: 0, begin: 0 };
      second.socket.onAnyOutgoing((event: string) => {
        // The lock is taken as the commit leaves, and released when the site tries again.
        if (event === 'update:commit' && ++sent.commit === 1) locker.exec('BEGIN EXCLUSIVE');
        if (event === 'update:begin' && ++sent.begin === 2) locker.exec('COMMIT');
      });
      const refused: unknown[] = [];
      second.events.on('refused', (r) => refused.push(r));

      gate.open();
      const done = await Promise.all(cohort.agents.map((a) => a.done));

      expect(done[1]).toEqual({ rounds: 1, finalVersion: 1 });
      expect(refused).toEqual([]);
      expect(sent).toEqual({ commit: 2, begin: 2 });
      expect(errors.filter((l) => l.includes('UNAVAILABLE') || l.includes('SQLITE_BUSY'))).toHaveLength(1);
      expect(errors.join('')).toMatch(/cannot store anything now \(SQLITE_BUSY/);
      expectIntact(f);
    },
  );

  e2e.skipIf(!hasPrlimit)(
    'with its disk full (simulated by a file-size limit), refuses a reconnecting agent and an update with UNAVAILABLE, and takes both once writes succeed again',
    async ({ cohort }) => {
      const gate = latch();
      const { f, second, errors } = await setUp(cohort, gate.promise);
      cohort.defer(() => fileSizeLimit('unlimited'));
      const sent = { ready: 0, commit: 0, begin: 0 };
      second.socket.onAnyOutgoing((event: string) => {
        // Ready #2 (after the cut) meets a full disk; ready #3 finds room again and the site finishes its update;
        // the disk fills again as its commit leaves, and empties when the site tries again.
        if (event === 'agent:ready' && ++sent.ready === 3) {
          fileSizeLimit('unlimited');
          gate.open();
        }
        if (event === 'update:commit' && ++sent.commit === 1) fileSizeLimit('1');
        if (event === 'update:begin' && ++sent.begin === 2) fileSizeLimit('unlimited');
      });
      const refused: unknown[] = [];
      second.events.on('refused', (r) => refused.push(r));

      fileSizeLimit('1');
      second.socket.io.engine.close();
      const done = await Promise.all(cohort.agents.map((a) => a.done));

      expect(done[1]).toEqual({ rounds: 1, finalVersion: 1 });
      expect(refused).toEqual([]);
      expect(sent).toEqual({ ready: 3, commit: 2, begin: 2 });
      expect(errors.join('')).toMatch(/"event":"agent:ready".*cannot store anything now \(SQLITE_IOERR/);
      expect(errors.join('')).toMatch(/"event":"update:commit".*cannot store anything now \(SQLITE_IOERR/);
      expectIntact(f);
    },
  );
});
