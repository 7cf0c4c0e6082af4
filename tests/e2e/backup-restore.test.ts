import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupDataDir, restoreDataDir } from '../../coordinator/backup.js';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import { createCoordinator, openSqliteStore, type Coordinator, type Store } from '../../coordinator/index.js';
import type { Agent } from '../../node-agent/index.js';
import { startAgent, startFederation, type Federation } from './helpers.js';

let fed: Federation | undefined;
let restored: { coordinator: Coordinator; store: Store } | undefined;
const agents: Agent[] = [];
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-backup-'));
  dirs.push(dir);
  return dir;
};
/** The message `fn` throws with, or '' when it does not throw. */
function caught(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}
afterEach(async () => {
  agents.splice(0).forEach((a) => a.close());
  await restored?.coordinator.close();
  restored?.store.close();
  restored = undefined;
  await fed?.close();
  fed = undefined;
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('cohort backup and restore', () => {
  it('copies a running coordinator consistently; a coordinator started on the restored copy resumes the federation with its audit chain intact', async () => {
    fed = await startFederation(2, { rounds: 3, minParticipants: 2, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } }, 'logreg', 150);
    const f = fed;
    agents.push(startAgent(f, 0), startAgent(f, 1));
    await new Promise<void>((resolve) => f.coordinator.runner.once('round:published', () => resolve()));
    const backup = join(tempDir(), 'backup');

    const manifest = await backupDataDir(f.dir, backup); // while the coordinator runs the next round
    await Promise.all(agents.map((a) => a.done));
    agents.splice(0).forEach((a) => a.close());
    await f.coordinator.close();
    const target = tempDir();
    restoreDataDir(backup, target);
    const store = openSqliteStore(join(target, 'coordinator.db'));
    const coordinator = await createCoordinator({ ...f.options, store, dataDir: target, port: 0 });
    restored = { coordinator, store };
    f.coordinator = coordinator;
    agents.push(startAgent(f, 0), startAgent(f, 1));
    await Promise.all(agents.map((a) => a.done));

    expect(manifest.models.map((m) => m.version)).toContain(1);
    const v1 = manifest.models.find((m) => m.version === 1)!;
    expect(store.getModel('e2e', 1)?.digest).toBe(v1.digest);
    expect(store.listRounds('e2e').filter((r) => r.state === 'published')).toHaveLength(3);
    expect(store.listModels('e2e').map((m) => m.version)).toEqual([0, 1, 2, 3]);
    const events = store.listAuditRows();
    expect(events.length).toBeGreaterThan(manifest.auditEvents);
    expect(events[manifest.auditEvents - 1]?.hash).toBe(manifest.auditHead); // the restored chain continues from the backup's head
    expect(verifyAuditTable(store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
  });

  it('refuses a damaged backup, naming the file, and never overwrites a database unless forced', async () => {
    fed = await startFederation(1, { rounds: 1, minParticipants: 1, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } }, 'logreg', 100);
    const f = fed;
    agents.push(startAgent(f, 0));
    await agents[0]!.done;
    const backup = join(tempDir(), 'backup');
    const manifest = await backupDataDir(f.dir, backup);
    const occupied = tempDir();
    restoreDataDir(backup, occupied);

    const again = caught(() => restoreDataDir(backup, occupied));
    const forced = restoreDataDir(backup, occupied, { force: true });
    const file = join(backup, manifest.models[1]!.path);
    const bytes = readFileSync(file);
    bytes[20] = (bytes[20] as number) ^ 1;
    writeFileSync(file, bytes);
    const damaged = caught(() => restoreDataDir(backup, tempDir()));

    expect(again).toMatch(/already holds a coordinator\.db.*--force/);
    expect(forced.models).toHaveLength(2);
    expect(existsSync(join(occupied, 'coordinator.db'))).toBe(true);
    expect(damaged).toContain(`backup is damaged: model file ${manifest.models[1]!.path} is corrupt`);
    await expect(backupDataDir(f.dir, backup)).rejects.toThrow(/not empty/);
  });
});
