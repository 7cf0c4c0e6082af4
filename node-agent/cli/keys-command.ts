/** `cohort keys generate`: an institution's or the coordinator's identity, private file 0600 and shareable public file. */
import { join } from 'node:path';
import { Command } from 'commander';
import { fingerprint, generateIdentity, publicIdentityOf, writeIdentityFile, writePublicIdentityFile } from '../../crypto/index.js';

export function keysCommand(): Command {
  const keys = new Command('keys').description('manage identities (Ed25519 signing + X25519 key agreement)');
  keys
    .command('generate')
    .description('create ID.key.json (private, mode 0600) and ID.pub.json (share it with the other side)')
    .requiredOption('--id <id>', 'institution id (or "coordinator"): letters, digits, ".", "_", "-"')
    .option('--out <dir>', 'directory for the key files', '.cohort/keys')
    .option('--force', 'overwrite an existing key file', false)
    .action((o: { id: string; out: string; force: boolean }) => {
      const identity = generateIdentity(o.id);
      const keyFile = join(o.out, `${o.id}.key.json`);
      const pubFile = join(o.out, `${o.id}.pub.json`);
      writeIdentityFile(keyFile, identity, { force: o.force });
      writePublicIdentityFile(pubFile, publicIdentityOf(identity));
      process.stdout.write(
        `private key: ${keyFile} (mode 0600, never share it)\npublic key:  ${pubFile}\nfingerprint: ${fingerprint(identity.signPublicKey)}\n`,
      );
    });
  return keys;
}
