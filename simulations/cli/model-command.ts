/** `cohort model verify`: checks a published model file offline, with nothing but the coordinator's public key. */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { decodeTensors, toCohortError } from '../../protocol/index.js';
import { fingerprint, fromBase64, readPublicIdentityFile, verifyDocument, verifyModel } from '../../crypto/index.js';

export interface ModelVerdict {
  ok: boolean;
  federation?: string;
  version?: number;
  digest?: string;
  parameters?: number;
  /** What was checked, in order; the first failing line says why. */
  checks: { name: string; ok: boolean; detail: string }[];
}

interface SignedCardFile {
  card: { federation: string; version: number; model: { digest: string; specHash: string; signature: string } };
  signature: string;
}

/**
 * Checks a model frame (as `models/<federation>/v<N>.cohort`, or as downloaded from the REST API) against the
 * coordinator's key: the frame's own SHA-256 trailer, the coordinator's Ed25519 signature over (federation, version,
 * spec hash, digest), and, with a card, the card's signature and that it names this digest.
 * @example const verdict = verifyModelFile(readFileSync('v3.cohort'), pub.signPublicKey, { card }); verdict.ok
 */
export function verifyModelFile(bytes: Uint8Array, signPublicKey: Uint8Array, source: { card?: SignedCardFile; signature?: string; specHash?: string }): ModelVerdict {
  const checks: ModelVerdict['checks'] = [];
  const fail = (name: string, detail: string): ModelVerdict => ({ ok: false, checks: [...checks, { name, ok: false, detail }] });
  let decoded;
  try {
    decoded = decodeTensors(bytes);
  } catch (err) {
    return fail('frame', `not an intact model frame: ${toCohortError(err).message}`);
  }
  const { meta, digest, tensors } = decoded;
  const federation = typeof meta.federation === 'string' ? meta.federation : undefined;
  const version = typeof meta.version === 'number' ? meta.version : undefined;
  if (federation === undefined || version === undefined) return fail('frame', 'the frame names no federation and version: not a published model');
  checks.push({ name: 'frame', ok: true, detail: `SHA-256 ${digest} matches the frame's trailer` });
  const { card } = source;
  if (card) {
    if (!verifyDocument(card.card, card.signature, signPublicKey)) return fail('card', "the model card is not signed by the coordinator's key");
    if (card.card.federation !== federation || card.card.version !== version || card.card.model.digest !== digest) {
      return fail('card', `the card describes ${card.card.federation} v${card.card.version} with digest ${card.card.model.digest}, the file is ${federation} v${version} with digest ${digest}`);
    }
    checks.push({ name: 'card', ok: true, detail: 'the signed model card names this federation, version and digest' });
  }
  const signature = source.signature ?? card?.card.model.signature;
  const specHash = source.specHash ?? card?.card.model.specHash;
  if (!signature || !specHash) return fail('signature', 'no signature and spec hash to check: give the model card (--card) or --signature and --spec-hash');
  let sig: Uint8Array;
  try {
    sig = fromBase64(signature);
  } catch {
    sig = new Uint8Array(0);
  }
  if (!verifyModel({ federation, version, specHash, weightsDigest: digest }, sig, signPublicKey)) {
    return fail('signature', `the signature over (${federation}, v${version}, spec ${specHash.slice(0, 16)}…, digest ${digest.slice(0, 16)}…) is not the coordinator's`);
  }
  checks.push({ name: 'signature', ok: true, detail: `signed by the coordinator key ${fingerprint(signPublicKey)}` });
  const parameters = tensors.reduce((n, t) => n + t.data.length, 0);
  return { ok: true, federation, version, digest, parameters, checks };
}

export function modelCommand(): Command {
  const cmd = new Command('model').description('published global models, offline');
  cmd
    .command('verify')
    .description("check a model file's digest and the coordinator's signature with its public key alone (no coordinator needed)")
    .argument('<file>', 'the model file (models/<federation>/v<N>.cohort, or a REST download)')
    .requiredOption('--key <pubfile>', "the coordinator's public key file (obtained independently of the model)")
    .option('--card <file>', 'the signed model card (default: <file without .cohort>.card.json when it exists)')
    .option('--signature <base64>', 'the model signature (the x-cohort-signature header of a download), instead of a card')
    .option('--spec-hash <hex>', 'the spec hash (the x-cohort-spec-hash header of a download), with --signature')
    .action((file: string, o: { key: string; card?: string; signature?: string; specHash?: string }) => {
      const pub = readPublicIdentityFile(o.key);
      const besideCard = file.replace(/\.cohort$/, '.card.json');
      const cardFile = o.card ?? (o.signature === undefined && besideCard !== file && existsSync(besideCard) ? besideCard : undefined);
      const card = cardFile ? (JSON.parse(readFileSync(cardFile, 'utf8')) as SignedCardFile) : undefined;
      const verdict = verifyModelFile(new Uint8Array(readFileSync(file)), pub.signPublicKey, { card, signature: o.signature, specHash: o.specHash });
      for (const c of verdict.checks) process.stdout.write(`${c.ok ? 'ok     ' : 'FAILED '} ${c.name.padEnd(9)} ${c.detail}\n`);
      if (!verdict.ok) {
        process.stdout.write(`${file}: NOT VERIFIED\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(`${file}: ${verdict.federation} v${verdict.version}, ${verdict.parameters?.toLocaleString('en')} parameters, verified\n`);
    });
  return cmd;
}
