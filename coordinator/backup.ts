/**
 * Backups of a coordinator's data directory while it runs: SQLite's online backup API gives a consistent copy of the
 * database, then the model files that copy refers to are copied and checked against their digests.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { loadModelFile } from './models/model-files.js';

export const DATABASE_FILE = 'coordinator.db';

const BackupManifestSchema = z
  .object({
    format: z.literal('cohort-backup/v1'),
    createdAt: z.string(),
    database: z.string(),
    auditEvents: z.number().int().min(0),
    auditHead: z.string().nullable(),
    models: z.array(
      z.object({ federation: z.string(), version: z.number().int(), path: z.string(), digest: z.string(), extra: z.array(z.string()) }),
    ),
  })
  .strict();
export type BackupManifest = z.infer<typeof BackupManifestSchema>;

interface ModelRow {
  federation: string;
  version: number;
  path: string;
  digest: string;
}

/** The model rows and the audit head of a database file, read without writing to it. */
function readSnapshot(dbPath: string): { models: ModelRow[]; auditEvents: number; auditHead: string | null } {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const models = db
      .prepare('SELECT federation_id AS federation, version, path, digest FROM models ORDER BY federation_id, version')
      .all() as ModelRow[];
    const head = db.prepare('SELECT count(*) AS n, (SELECT hash FROM audit ORDER BY id DESC LIMIT 1) AS hash FROM audit').get() as {
      n: number;
      hash: string | null;
    };
    return { models, auditEvents: head.n, auditHead: head.hash };
  } finally {
    db.close();
  }
}

/** The files published beside a model frame (its card as JSON and Markdown), relative to the data directory. */
function companions(dataDir: string, modelPath: string): string[] {
  const base = modelPath.replace(/\.cohort$/, '');
  return [`${base}.card.json`, `${base}.card.md`].filter((p) => existsSync(join(dataDir, p)));
}

function copyInto(fromDir: string, toDir: string, relPath: string): void {
  const target = join(toDir, relPath);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(fromDir, relPath), target);
}

/**
 * Copies a coordinator's data directory to `outDir` (which must not exist or be empty), safe while the coordinator
 * runs: the database through SQLite's online backup (a consistent snapshot), then every model file the snapshot
 * lists, each checked against its stored digest, and `backup.json` describing what was copied.
 * @example const manifest = await backupDataDir('.cohort/coordinator', 'backups/2026-12-06')
 */
export async function backupDataDir(
  dataDir: string,
  outDir: string,
  progress: (line: string) => void = () => undefined,
): Promise<BackupManifest> {
  const source = join(dataDir, DATABASE_FILE);
  if (!existsSync(source)) throw new Error(`${dataDir} holds no ${DATABASE_FILE}: not a coordinator data directory`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new Error(`${outDir} is not empty: a backup goes to a new folder`);
  mkdirSync(outDir, { recursive: true });
  const target = join(outDir, DATABASE_FILE);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(target, {
      progress: ({ totalPages, remainingPages }) => (progress(`database: ${totalPages - remainingPages}/${totalPages} pages`), 256),
    });
  } finally {
    db.close();
  }
  const snapshot = readSnapshot(target);
  const models = snapshot.models.map((m) => {
    // Model files are written before their row is committed, so every row of the snapshot has its file.
    loadModelFile(dataDir, m.path, m.digest);
    const extra = companions(dataDir, m.path);
    for (const rel of [m.path, ...extra]) copyInto(dataDir, outDir, rel);
    progress(`model ${m.federation} v${m.version}: ${m.path}`);
    return { ...m, extra };
  });
  const manifest: BackupManifest = {
    format: 'cohort-backup/v1',
    createdAt: new Date().toISOString(),
    database: DATABASE_FILE,
    auditEvents: snapshot.auditEvents,
    auditHead: snapshot.auditHead,
    models,
  };
  writeFileSync(join(outDir, 'backup.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * Checks a backup (its database's audit head and model list against backup.json, every model file against its digest)
 * and copies it into `dataDir`. A data directory that already holds a database is refused unless `force`, and then
 * its database is kept aside as `coordinator.db.before-restore-<time>`.
 * @example restoreDataDir('backups/2026-12-06', '.cohort/coordinator')
 */
export function restoreDataDir(fromDir: string, dataDir: string, opts: { force?: boolean } = {}): BackupManifest {
  const manifestPath = join(fromDir, 'backup.json');
  if (!existsSync(manifestPath)) throw new Error(`${fromDir} has no backup.json: not a cohort backup`);
  const manifest = BackupManifestSchema.parse(JSON.parse(readFileSync(manifestPath, 'utf8')));
  const snapshot = readSnapshot(join(fromDir, manifest.database));
  if (snapshot.auditEvents !== manifest.auditEvents || snapshot.auditHead !== manifest.auditHead) {
    throw new Error(
      `the backup's database does not match backup.json: ${snapshot.auditEvents} audit events (head ${snapshot.auditHead}), backup.json says ${manifest.auditEvents} (head ${manifest.auditHead})`,
    );
  }
  const listed = new Set(manifest.models.map((m) => `${m.federation}/${m.version}/${m.digest}`));
  const missing = snapshot.models.filter((m) => !listed.has(`${m.federation}/${m.version}/${m.digest}`));
  if (missing.length > 0)
    throw new Error(`backup.json does not list model ${missing[0]!.federation} v${missing[0]!.version} of the backup's database`);
  for (const m of snapshot.models) {
    try {
      loadModelFile(fromDir, m.path, m.digest);
    } catch (err) {
      throw new Error(`the backup is damaged: ${(err as Error).message}`, { cause: err });
    }
  }
  const existing = join(dataDir, DATABASE_FILE);
  if (existsSync(existing)) {
    if (!opts.force)
      throw new Error(
        `${dataDir} already holds a ${DATABASE_FILE}; stop its coordinator and pass --force to replace it (the old one is kept aside)`,
      );
    const aside = `${existing}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(existing, aside);
    for (const suffix of ['-wal', '-shm']) if (existsSync(existing + suffix)) renameSync(existing + suffix, aside + suffix);
  }
  mkdirSync(dataDir, { recursive: true });
  copyInto(fromDir, dataDir, manifest.database);
  for (const m of manifest.models) for (const rel of [m.path, ...m.extra]) copyInto(fromDir, dataDir, rel);
  return manifest;
}

/** Bytes in a backup folder (for the command's report). */
export function backupBytes(manifest: BackupManifest, dir: string): number {
  return [manifest.database, ...manifest.models.flatMap((m) => [m.path, ...m.extra])].reduce(
    (sum, rel) => sum + statSync(join(dir, rel)).size,
    0,
  );
}
