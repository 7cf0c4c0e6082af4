import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { backupDataDir, restoreDataDir } from '../../coordinator/backup.js';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import { createCoordinator, openSqliteStore } from '../../coordinator/index.js';
import { e2e, startAgent } from './helpers.js';

/** The message `fn` throws with, or '' when it does not throw. */
function caught(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('cohort backup and restore', () => {
  e2e(
    'copies a running coordinator consistently; a coordinator started on the restored copy resumes the federation with its audit chain intact',
    async ({ cohort }) => {
      const f = await cohort.federation(
        2,
        { rounds: 3, minParticipants: 2, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
        'logreg',
        150,
      );
      cohort.agents.push(startAgent(f, 0), startAgent(f, 1));
      await new Promise<void>((resolve) => f.coordinator.runner.once('round:published', () => resolve()));
      const backup = join(cohort.tempDir('cohort-backup-'), 'backup');

      const manifest = await backupDataDir(f.dir, backup); // while the coordinator runs the next round
      await Promise.all(cohort.agents.map((a) => a.done));
      cohort.agents.splice(0).forEach((a) => a.close());
      await f.coordinator.close();
      const target = cohort.tempDir('cohort-backup-');
      restoreDataDir(backup, target);
      const store = openSqliteStore(join(target, 'coordinator.db'));
      const coordinator = await createCoordinator({ ...f.options, store, dataDir: target, port: 0 });
      cohort.defer(async () => {
        await coordinator.close();
        store.close();
      });
      f.coordinator = coordinator;
      cohort.agents.push(startAgent(f, 0), startAgent(f, 1));
      await Promise.all(cohort.agents.map((a) => a.done));

      expect(manifest.models.map((m) => m.version)).toContain(1);
      const v1 = manifest.models.find((m) => m.version === 1)!;
      expect(store.getModel('e2e', 1)?.digest).toBe(v1.digest);
      expect(store.listRounds('e2e').filter((r) => r.state === 'published')).toHaveLength(3);
      expect(store.listModels('e2e').map((m) => m.version)).toEqual([0, 1, 2, 3]);
      const events = store.listAuditRows();
      expect(events.length).toBeGreaterThan(manifest.auditEvents);
      expect(events[manifest.auditEvents - 1]?.hash).toBe(manifest.auditHead); // the restored chain continues from the backup's head
      expect(verifyAuditTable(store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
    },
  );

  e2e('refuses a damaged backup, naming the file, and never overwrites a database unless forced', async ({ cohort }) => {
    const f = await cohort.federation(
      1,
      { rounds: 1, minParticipants: 1, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
      'logreg',
      100,
    );
    cohort.agent(f, 0);
    await cohort.agents[0]!.done;
    const backup = join(cohort.tempDir('cohort-backup-'), 'backup');
    const manifest = await backupDataDir(f.dir, backup);
    const occupied = cohort.tempDir('cohort-backup-');
    restoreDataDir(backup, occupied);

    const again = caught(() => restoreDataDir(backup, occupied));
    const forced = restoreDataDir(backup, occupied, { force: true });
    const file = join(backup, manifest.models[1]!.path);
    const bytes = readFileSync(file);
    bytes[20] = (bytes[20] as number) ^ 1;
    writeFileSync(file, bytes);
    const damaged = caught(() => restoreDataDir(backup, cohort.tempDir('cohort-backup-')));

    expect(again).toMatch(/already holds a coordinator\.db.*--force/);
    expect(forced.models).toHaveLength(2);
    expect(existsSync(join(occupied, 'coordinator.db'))).toBe(true);
    expect(damaged).toContain(`backup is damaged: model file ${manifest.models[1]!.path} is corrupt`);
    await expect(backupDataDir(f.dir, backup)).rejects.toThrow(/not empty/);
  });
});
