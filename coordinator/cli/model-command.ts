/** `cohort model verify|export|inspect`: a published model file offline, checked with nothing but the coordinator's public key. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { ModelSpecSchema, decodeTensors, toCohortError, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import { fingerprint, fromBase64, readPublicIdentityFile, verifyDocument, verifyModel } from '../../crypto/index.js';
import { baseTensorsFromFrame } from '../models/index.js';
import type { ModelTools } from './model-tools.js';

export interface ModelVerdict {
  ok: boolean;
  federation?: string;
  version?: number;
  digest?: string;
  parameters?: number;
  /** The decoded frame, when it is intact. */
  frame?: ReturnType<typeof decodeTensors>;
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
export function verifyModelFile(
  bytes: Uint8Array,
  signPublicKey: Uint8Array,
  source: { card?: SignedCardFile; signature?: string; specHash?: string },
): ModelVerdict {
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
  if (federation === undefined || version === undefined)
    return fail('frame', 'the frame names no federation and version: not a published model');
  checks.push({ name: 'frame', ok: true, detail: `SHA-256 ${digest} matches the frame's trailer` });
  const { card } = source;
  if (card) {
    if (!verifyDocument(card.card, card.signature, signPublicKey))
      return fail('card', "the model card is not signed by the coordinator's key");
    if (card.card.federation !== federation || card.card.version !== version || card.card.model.digest !== digest) {
      return fail(
        'card',
        `the card describes ${card.card.federation} v${card.card.version} with digest ${card.card.model.digest}, the file is ${federation} v${version} with digest ${digest}`,
      );
    }
    checks.push({ name: 'card', ok: true, detail: 'the signed model card names this federation, version and digest' });
  }
  const signature = source.signature ?? card?.card.model.signature;
  const specHash = source.specHash ?? card?.card.model.specHash;
  if (!signature || !specHash)
    return fail('signature', 'no signature and spec hash to check: give the model card (--card) or --signature and --spec-hash');
  let sig: Uint8Array;
  try {
    sig = fromBase64(signature);
  } catch {
    sig = new Uint8Array(0);
  }
  if (!verifyModel({ federation, version, specHash, weightsDigest: digest }, sig, signPublicKey)) {
    return fail(
      'signature',
      `the signature over (${federation}, v${version}, spec ${specHash.slice(0, 16)}…, digest ${digest.slice(0, 16)}…) is not the coordinator's`,
    );
  }
  checks.push({ name: 'signature', ok: true, detail: `signed by the coordinator key ${fingerprint(signPublicKey)}` });
  const parameters = tensors.reduce((n, t) => n + t.data.length, 0);
  return { ok: true, federation, version, digest, parameters, checks, frame: decoded };
}

/** The signed card beside a model file (`v<N>.cohort` -> `v<N>.card.json`), when there is one. */
function cardBeside(file: string): SignedCardFile | undefined {
  const card = file.replace(/\.cohort$/, '.card.json');
  return card !== file && existsSync(card) ? (JSON.parse(readFileSync(card, 'utf8')) as SignedCardFile) : undefined;
}

/**
 * A published model file's spec (from its metadata) and weights. With the coordinator's key file its signature (and
 * the card beside it) is checked first and a failure throws; without, a warning says it was not checked.
 * @example const { spec, tensors } = readPublishedModel('models/demo/v3.cohort', 'keys/coordinator.pub.json')
 */
export function readPublishedModel(
  file: string,
  keyFile?: string,
): { spec: ModelSpec; tensors: NamedTensor[]; meta: Record<string, unknown>; digest: string } {
  const bytes = new Uint8Array(readFileSync(file));
  let frame: ReturnType<typeof decodeTensors> | undefined;
  if (keyFile) {
    const verdict = verifyModelFile(bytes, readPublicIdentityFile(keyFile).signPublicKey, { card: cardBeside(file) });
    if (!verdict.ok) throw new Error(`${file} does not verify with ${keyFile}: ${verdict.checks.at(-1)?.detail ?? 'unknown'}`);
    frame = verdict.frame;
  } else {
    process.stderr.write(`warning: ${file} is used without checking its signature (pass --key coordinator.pub.json)\n`);
  }
  const { meta, tensors, digest } = frame ?? decodeTensors(bytes);
  const spec = ModelSpecSchema.safeParse(meta.spec);
  if (!spec.success) throw new Error(`${file} carries no model spec in its metadata: not a published Cohort model`);
  return { spec: spec.data, tensors, meta, digest };
}

/** Where `cohort model export` looks for a user model's base by default: beside the published file, as the coordinator keeps it. */
const defaultBase = (file: string): string => join(dirname(file), 'base', 'tensors.cohort');

export function modelCommand(tools: ModelTools): Command {
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
      const card = o.card
        ? (JSON.parse(readFileSync(o.card, 'utf8')) as SignedCardFile)
        : o.signature === undefined
          ? cardBeside(file)
          : undefined;
      const verdict = verifyModelFile(new Uint8Array(readFileSync(file)), pub.signPublicKey, {
        card,
        signature: o.signature,
        specHash: o.specHash,
      });
      for (const c of verdict.checks) process.stdout.write(`${c.ok ? 'ok     ' : 'FAILED '} ${c.name.padEnd(9)} ${c.detail}\n`);
      if (!verdict.ok) {
        process.stdout.write(`${file}: NOT VERIFIED\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(
        `${file}: ${verdict.federation} v${verdict.version}, ${verdict.parameters?.toLocaleString('en')} parameters, verified\n`,
      );
    });
  cmd
    .command('export')
    .description('write a published model as a TensorFlow.js Layers model (model.json and weights.bin) that tf.loadLayersModel loads')
    .argument('<file>', 'the model file (models/<federation>/v<N>.cohort, or a REST download)')
    .requiredOption('--out <dir>', 'the folder to write model.json, weights.bin and cohort-model.json into')
    .option('--key <pubfile>', "the coordinator's public key file: check the model's signature first")
    .option(
      '--base <file>',
      "a user model's base (frozen and local tensors): default base/tensors.cohort beside the model file, as the coordinator keeps it",
    )
    .action(async (file: string, o: { out: string; key?: string; base?: string }) => {
      const model = readPublishedModel(file, o.key);
      const written = await tools.exportLayers(
        model.spec,
        [
          ...baseTensorsFromFrame(
            o.base ?? defaultBase(file),
            model.spec,
            `${file} is a user model whose file holds only its trained tensors; its base (frozen and local tensors) is models/<federation>/base/tensors.cohort in the coordinator's data directory: give it with --base (looked at ${o.base ?? defaultBase(file)})`,
          ),
          ...model.tensors,
        ],
        o.out,
      );
      // What the Layers file cannot say: the input layout, the classes, and the z-scores tabular inputs need first.
      const { features, classes, inputShape, normalization, task, preprocessing } = model.spec;
      writeFileSync(
        join(o.out, 'cohort-model.json'),
        `${JSON.stringify({ federation: model.meta.federation, version: model.meta.version, digest: model.digest, inputShape, ...(features ? { features } : {}), classes, ...(task ? { task } : {}), ...(normalization ? { normalization } : {}), ...(preprocessing ? { preprocessing } : {}) }, null, 2)}\n`,
      );
      process.stdout.write(
        `${written.modelJson} and ${written.weightsBin} (${written.bytes.toLocaleString('en')} bytes of weights): load with tf.loadLayersModel; inputs, classes and normalisation in ${join(o.out, 'cohort-model.json')}\n`,
      );
    });
  cmd
    .command('inspect')
    .description(
      'layers, parameters (all and trainable) and the bytes a site sends per round, of a published model or a TF.js Layers model.json',
    )
    .argument(
      '<target>',
      'a model file (v<N>.cohort), a version number (with --data-dir, and --federation when it holds several), or a TF.js model.json',
    )
    .option('--data-dir <dir>', "the coordinator's data directory (or a simulate run folder), for a version number", '.cohort/coordinator')
    .option('--federation <id>', 'federation id, for a version number (default: the only one under --data-dir)')
    .option('--key <pubfile>', "the coordinator's public key file: check a published model's signature first")
    .option('--json', 'print the inspection as JSON', false)
    .action(async (target: string, o: { dataDir?: string; federation?: string; key?: string; json: boolean }) => {
      const report = await tools.inspect(target, o, (file) => readPublishedModel(file, o.key));
      process.stdout.write(o.json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
    });
  return cmd;
}
