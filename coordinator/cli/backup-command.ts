/** `cohort backup` and `cohort restore`: a consistent copy of a coordinator's data directory, taken while it runs. */
import { join } from 'node:path';
import { Command } from 'commander';
import { readPublicIdentityFile } from '../../crypto/index.js';

export function backupCommand(): Command {
  return new Command('backup')
    .description("copy a coordinator's database (SQLite online backup: consistent while the coordinator runs) and its published models")
    .option('--data-dir <dir>', "the coordinator's data directory", '.cohort/coordinator')
    .requiredOption('--out <dir>', 'a new, empty folder for the backup')
    .action(async (o: { dataDir: string; out: string }) => {
      const { backupDataDir, backupBytes } = await import('../backup.js');
      const manifest = await backupDataDir(o.dataDir, o.out, (line) => process.stderr.write(`${line}\n`));
      const mib = (backupBytes(manifest, o.out) / 2 ** 20).toFixed(1);
      process.stdout.write(
        `backup written to ${o.out}: the database (${manifest.auditEvents} audit events, head ${manifest.auditHead ?? '-'}) and ${manifest.models.length} model files, ${mib} MiB\n`,
      );
    });
}

export function restoreCommand(): Command {
  return new Command('restore')
    .description('check a backup and copy it into a data directory (stop the coordinator first)')
    .requiredOption('--from <dir>', 'the backup folder (cohort backup --out)')
    .option('--data-dir <dir>', "the coordinator's data directory to restore into", '.cohort/coordinator')
    .option('--key <pubfile>', "the coordinator's public key file: also verify the restored audit chain and its signatures")
    .option('--force', 'replace an existing database (kept aside as coordinator.db.before-restore-<time>)', false)
    .action(async (o: { from: string; dataDir: string; key?: string; force: boolean }) => {
      const { restoreDataDir } = await import('../backup.js');
      const manifest = restoreDataDir(o.from, o.dataDir, { force: o.force });
      process.stdout.write(
        `restored ${o.from} (taken ${manifest.createdAt}) into ${o.dataDir}: ${manifest.models.length} model files checked against their digests\n`,
      );
      if (!o.key) return;
      const { openSqliteStore } = await import('../index.js');
      const { verifyAuditTable } = await import('../audit/index.js');
      const store = openSqliteStore(join(o.dataDir, 'coordinator.db'));
      try {
        const verdict = verifyAuditTable(store, readPublicIdentityFile(o.key).signPublicKey);
        if (!verdict.ok) throw new Error(`the restored audit chain is BROKEN at ${verdict.message}`);
        process.stdout.write(`audit chain intact: ${verdict.entries} events, every signature valid\n`);
      } finally {
        store.close();
      }
    });
}
