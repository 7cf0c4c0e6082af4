/** Fault: the coordinator's process is killed with SIGKILL mid-round and restarted on the same database; nothing is lost or counted twice. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect } from 'vitest';
import { generateIdentity, publicIdentityOf, writeIdentityFile, writePublicIdentityFile } from '../../crypto/index.js';
import { openSqliteStore } from '../../coordinator/index.js';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { createAgent, mnistSource } from '../../node-agent/index.js';
import { grantSimulatedConsent } from '../../simulations/simulate/consents.js';
import type { StudyManifest } from '../../protocol/index.js';
import { freePort, startCli, type CliProcess } from '../simulations/cli-helpers.js';
import { latch, meanShift, modelTensors, shiftTrainer, waitFor } from './faults-helpers.js';
import { e2e, quiet } from './helpers.js';

/** Reads the coordinator's database beside it, read-only (WAL lets a reader in while it writes). */
function peek<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('the coordinator process killed with SIGKILL in the middle of a round', () => {
  e2e(
    'keeps every accepted update and published model, fails the interrupted round cleanly, counts nothing twice, and the agents reconnect by themselves',
    async ({ cohort }) => {
      const d = cohort.tempDir('cohort-kill-');
      const procs: CliProcess[] = [];
      cohort.defer(() => Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL'))));
      const coordinator = generateIdentity('coordinator');
      const sites = [generateIdentity('site-a'), generateIdentity('site-b')];
      writeIdentityFile(join(d, 'coordinator.key.json'), coordinator);
      for (const s of sites) writePublicIdentityFile(join(d, `${s.id}.pub.json`), publicIdentityOf(s));
      writeFileSync(join(d, 'policy.json'), JSON.stringify({ format: 'cohort-policy/v1', version: 1, minInstitutionsPerRound: 1 }));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const start = async (): Promise<CliProcess> => {
        const p = startCli(
          [
            'coordinator',
            'start',
            '--key',
            'coordinator.key.json',
            '--data-dir',
            'data',
            '--federation',
            'demo',
            '--model',
            'logreg',
            '--rounds',
            '3',
            '--min-participants',
            '2',
            '--round-timeout',
            '60',
            '--policy',
            'policy.json',
            '--enroll',
            'site-a.pub.json',
            '--enroll',
            'site-b.pub.json',
            '--port',
            String(port),
          ],
          { cwd: d, timeoutMs: 120_000 },
        );
        procs.push(p);
        await p.waitFor(/coordinator ready/, 30_000);
        return p;
      };
      const dbPath = join(d, 'data', 'coordinator.db');
      const first = await start();
      const manifest = JSON.parse(
        peek<{ manifest: string }>(dbPath, "SELECT manifest FROM federations WHERE id = 'demo'")[0]!.manifest,
      ) as StudyManifest;
      // Site b holds its round-2 update until the coordinator has been killed and restarted.
      const hold = latch();
      const shifts = [0.01, -0.03];
      sites.forEach((identity, i) => {
        const consentFile = join(d, identity.id, 'consent.json');
        grantSimulatedConsent(identity, manifest, consentFile, 2);
        const trainer = shiftTrainer(
          shifts[i] as number,
          i === 1 ? (round) => (round === 2 ? hold.promise : Promise.resolve()) : undefined,
        );
        cohort.agents.push(
          createAgent({
            coordinatorUrl: url,
            federation: 'demo',
            identity,
            coordinator: publicIdentityOf(coordinator),
            data: mnistSource(Array.from({ length: 80 }, (_, j) => j * 2 + i)),
            consentFile,
            backend: 'cpu',
            valFraction: 0,
            log: quiet,
            trainer,
          }),
        );
      });
      const accepted = await waitFor(
        () =>
          peek<{ digest: string }>(
            dbPath,
            "SELECT digest FROM participations WHERE round = 2 AND institution_id = 'site-a' AND status = 'accepted'",
          )[0],
        30_000,
        'site-a accepted in round 2',
      );
      const modelsBefore = peek<{ version: number; digest: string }>(dbPath, 'SELECT version, digest FROM models ORDER BY version');

      first.child.kill('SIGKILL');
      const killed = await first.exited;
      await start();
      hold.open();
      const done = await Promise.all(cohort.agents.map((a) => a.done));

      expect(killed.signal).toBe('SIGKILL');
      expect(modelsBefore.map((m) => m.version)).toEqual([0, 1]);
      expect(done).toEqual([
        { rounds: 3, finalVersion: 3 },
        { rounds: 3, finalVersion: 3 },
      ]);
      await Promise.all(procs.splice(0).map((p) => p.stop('SIGTERM')));
      const db = new Database(dbPath, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
      const store = openSqliteStore(dbPath);
      try {
        // Every model published before the kill is still there, unchanged; every model file matches its digest.
        const models = store.listModels('demo');
        expect(models.map((m) => m.version)).toEqual([0, 1, 2, 3]);
        for (const m of modelsBefore) expect(store.getModel('demo', m.version)?.digest).toBe(m.digest);
        for (const m of models) expect(() => loadModelFile(join(d, 'data'), m.path, m.digest)).not.toThrow();
        // The update accepted before the kill is still recorded, in the round the restart failed.
        expect(store.getParticipation('demo', 2, 'site-a')).toMatchObject({ status: 'accepted', digest: accepted.digest });
        expect(store.getParticipation('demo', 2, 'site-b')).toMatchObject({ status: 'dropped', code: 'ROUND_CLOSED' });
        expect(store.listRounds('demo').map((r) => [r.round, r.state, r.resultVersion])).toEqual([
          [1, 'published', 1],
          [2, 'failed', null],
          [3, 'published', 2],
          [4, 'published', 3],
        ]);
        expect(store.getRound('demo', 2)?.reason).toBe('coordinator restarted during the round');
        // Nothing counted twice: each published version moved by exactly its own round's two updates.
        for (const [round, version] of [
          [1, 1],
          [3, 2],
          [4, 3],
        ] as const) {
          const parts = store.listParticipations('demo', round);
          expect(parts.map((p) => p.status)).toEqual(['accepted', 'accepted']);
          const [na, nb] = parts.map((p) => p.samples as number) as [number, number];
          expect(store.getRound('demo', round)?.metrics).toMatchObject({ participants: 2, samples: na + nb });
          const shift = meanShift(
            modelTensors(store, join(d, 'data'), 'demo', version - 1),
            modelTensors(store, join(d, 'data'), 'demo', version),
          );
          expect(shift).toBeCloseTo((0.01 * na - 0.03 * nb) / (na + nb), 5);
        }
        // Both agents came back by themselves, and the audit chain survived the kill.
        for (const s of sites)
          expect(
            store.listAudit({ federationId: 'demo' }).filter((e) => e.kind === 'agent.connected' && e.actor === s.id).length,
          ).toBeGreaterThanOrEqual(2);
        expect(verifyAuditTable(store, coordinator.signPublicKey)).toMatchObject({ ok: true });
      } finally {
        store.close();
      }
    },
  );
});
