/** `cohort tokens create|list|revoke`: the REST API's bearer tokens, managed on the coordinator's database file. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import nacl from 'tweetnacl';
import { fromHex, readIdentityFile, toBase64, type Identity } from '../../crypto/index.js';
import { openSqliteStore, type Store } from '../index.js';
import { API_ROLES, createApiToken, revokeApiToken } from '../auth/index.js';
import { choice } from '../../protocol/cli/options.js';

const DEFAULT_DATA_DIR = '.cohort/coordinator';

function openExisting(dataDir: string): Store {
  const file = join(dataDir, 'coordinator.db');
  if (!existsSync(file))
    throw new Error(
      `no coordinator database at ${file}: start the coordinator with --data-dir ${dataDir} first, or pass the right --data-dir`,
    );
  return openSqliteStore(file);
}

/**
 * Opens the store with audit events signed by the coordinator's key, so the token events keep the
 * chain verifiable; refuses a key that is not the one the stored federations were created with.
 */
function openSigned(dataDir: string, keyFile: string): Store {
  const identity: Identity = readIdentityFile(keyFile);
  const store = openExisting(dataDir);
  const mine = toBase64(identity.signPublicKey);
  const other = store.listFederations().find((f) => f.manifest.coordinator.signPublicKey !== mine);
  if (other) {
    store.close();
    throw new Error(`${keyFile} is not the key of the coordinator that runs federation ${other.id}`);
  }
  store.setAuditSigner((hash) => toBase64(nacl.sign.detached(fromHex(hash), identity.signSecretKey)));
  return store;
}

const when = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

export function tokensCommand(): Command {
  const cmd = new Command('tokens').description("API tokens for the coordinator's REST API (admin, auditor, institution)");
  cmd
    .command('create')
    .description('create a token and print it once (only its SHA-256 is stored); audited')
    .requiredOption('--role <role>', `${API_ROLES.join(' | ')}`, choice(API_ROLES))
    .requiredOption('--key <file>', "the coordinator's private key file (signs the audit event)")
    .option('--institution <id>', 'the institution an institution token is bound to')
    .option('--label <text>', 'what the token is for (shown by tokens list)')
    .option('--data-dir <dir>', "the coordinator's data directory", DEFAULT_DATA_DIR)
    .action((o: { role: (typeof API_ROLES)[number]; key: string; institution?: string; label?: string; dataDir: string }) => {
      const store = openSigned(o.dataDir, o.key);
      try {
        const { token, record } = createApiToken(
          store,
          { role: o.role, institution: o.institution ?? null, label: o.label ?? null },
          'cli',
        );
        process.stdout.write(
          `created ${record.role} token ${record.id}${record.institutionId ? ` for ${record.institutionId}` : ''}. It is shown once; keep it secret:\n${token}\n`,
        );
      } finally {
        store.close();
      }
    });
  cmd
    .command('list')
    .description('list tokens (ids, roles, labels, dates; never the tokens themselves)')
    .option('--data-dir <dir>', "the coordinator's data directory", DEFAULT_DATA_DIR)
    .option('--json', 'print JSON', false)
    .action((o: { dataDir: string; json: boolean }) => {
      const store = openExisting(o.dataDir);
      try {
        const rows = store.listApiTokens().map(({ hash: _hash, ...t }) => t);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${'id'.padEnd(18)} ${'role'.padEnd(11)} ${'institution'.padEnd(16)} ${'created'.padEnd(20)} ${'last used'.padEnd(20)} ${'revoked'.padEnd(20)} label\n`,
        );
        for (const t of rows) {
          process.stdout.write(
            `${t.id.padEnd(18)} ${t.role.padEnd(11)} ${(t.institutionId ?? '-').padEnd(16)} ${when(t.createdAt).padEnd(20)} ${when(t.lastUsedAt).padEnd(20)} ${when(t.revokedAt).padEnd(20)} ${t.label ?? ''}\n`,
          );
        }
      } finally {
        store.close();
      }
    });
  cmd
    .command('revoke')
    .description('revoke a token by its id (it stops working at once); audited')
    .argument('<id>', 'token id, as tokens list shows it')
    .requiredOption('--key <file>', "the coordinator's private key file (signs the audit event)")
    .option('--data-dir <dir>', "the coordinator's data directory", DEFAULT_DATA_DIR)
    .action((id: string, o: { key: string; dataDir: string }) => {
      const store = openSigned(o.dataDir, o.key);
      try {
        const row = revokeApiToken(store, id, 'cli');
        process.stdout.write(`revoked ${row.role} token ${row.id} (${when(row.revokedAt)})\n`);
      } finally {
        store.close();
      }
    });
  return cmd;
}
