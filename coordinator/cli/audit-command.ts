/** `cohort audit verify|export` and `cohort lineage`: what an auditor or ethics board runs, offline. */
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { readPublicIdentityFile, verifyChain } from '../../crypto/index.js';
import { openSqliteStore } from '../index.js';
import { exportAudit, parseExport, verifyAuditTable } from '../audit/index.js';
import { formatLineage, lineage } from '../models/index.js';
import { int } from '../../protocol/cli/options.js';

const dbOf = (dataDir: string): string => join(dataDir, 'coordinator.db');

export function auditCommand(): Command {
  const cmd = new Command('audit').description("check and export the coordinator's audit trail");
  cmd
    .command('verify')
    .description('check the whole hash chain and every signature; name the first broken event')
    .requiredOption('--key <pubfile>', "the coordinator's public key file (obtained independently of the database)")
    .option('--data-dir <dir>', "the coordinator's data directory (reads coordinator.db)")
    .option('--file <export.jsonl>', 'verify an export instead of a database')
    .action((o: { key: string; dataDir?: string; file?: string }) => {
      const pub = readPublicIdentityFile(o.key);
      let verdict;
      if (o.file) {
        verdict = verifyChain(parseExport(readFileSync(o.file, 'utf8')), pub.signPublicKey);
      } else {
        const store = openSqliteStore(dbOf(o.dataDir ?? '.cohort/coordinator'));
        try {
          verdict = verifyAuditTable(store, pub.signPublicKey);
        } finally {
          store.close();
        }
      }
      if (verdict.ok) {
        process.stdout.write(`audit chain intact: ${verdict.entries} events, every signature valid (head ${verdict.lastHash})\n`);
      } else {
        process.stdout.write(
          `AUDIT CHAIN BROKEN at ${verdict.message} [${verdict.problem}]; the ${verdict.entries} events before it verify\n`,
        );
        process.exitCode = 2;
      }
    });
  cmd
    .command('export')
    .description('write the audit trail as JSON Lines: { seq, prevHash, hash, signature, body } per event')
    .option('--data-dir <dir>', "the coordinator's data directory", '.cohort/coordinator')
    .option('--out <file>', 'output file (default: standard output)')
    .action(async (o: { dataDir: string; out?: string }) => {
      const store = openSqliteStore(dbOf(o.dataDir));
      const out = o.out ? createWriteStream(o.out) : process.stdout;
      let n = 0;
      try {
        for (const line of exportAudit(store)) {
          out.write(`${line}\n`);
          n += 1;
        }
      } finally {
        store.close();
      }
      if (o.out) await new Promise<void>((resolve) => (out as NodeJS.WritableStream).end(resolve));
      if (o.out) process.stderr.write(`${n} events written to ${o.out}\n`);
    });
  return cmd;
}

export function lineageCommand(): Command {
  return new Command('lineage')
    .description('show which institutions contributed to which rounds of a model version, and flag withdrawn consent')
    .argument('<version>', 'model version', int(0))
    .option('--data-dir <dir>', "the coordinator's data directory", '.cohort/coordinator')
    .option('--federation <id>', 'federation id (default: the only one)')
    .option('--json', 'print JSON', false)
    .action((version: number, o: { dataDir: string; federation?: string; json: boolean }) => {
      const store = openSqliteStore(dbOf(o.dataDir));
      try {
        const federations = store.listFederations();
        const federation = o.federation ?? (federations.length === 1 ? federations[0]!.id : undefined);
        if (!federation)
          throw new Error(`name the federation with --federation (${federations.map((f) => f.id).join(', ') || 'none found'})`);
        const l = lineage(store, federation, version);
        process.stdout.write(`${o.json ? JSON.stringify(l, null, 2) : formatLineage(l)}\n`);
      } finally {
        store.close();
      }
    });
}
