/** Identities: an Ed25519 signing key pair and an X25519 key pair per institution or coordinator, and their JSON forms. */
import nacl from 'tweetnacl';
import { concatBytes, constantTimeEqual, fromBase64, toBase64, toHex } from './bytes.js';
import { ed25519PublicKeyFromSeed } from './ed25519-sign.js';
import { sha256 } from './hash.js';
import { defaultRandom, takeRandom, type RandomSource } from './random.js';
import { assertBytes, assertId } from './validate.js';

/** A full identity, secret keys included. Keep it in a 0600 file (see key-file.ts). */
export interface Identity {
  id: string;
  signPublicKey: Uint8Array;
  /** tweetnacl's 64-byte form: 32-byte seed followed by the public key. */
  signSecretKey: Uint8Array;
  boxPublicKey: Uint8Array;
  boxSecretKey: Uint8Array;
}

/** What others may know about an identity. */
export interface PublicIdentity {
  id: string;
  signPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
}

export const IDENTITY_FORMAT = 'cohort-identity/v1';
export const PUBLIC_IDENTITY_FORMAT = 'cohort-public-identity/v1';

/**
 * A fresh identity; `random` supplies the two 32-byte seeds (inject a fixed source for reproducible tests).
 * @example const me = generateIdentity('st-marys');
 */
export function generateIdentity(id: string, random: RandomSource = defaultRandom): Identity {
  assertId('id', id);
  const signSeed = takeRandom(random, 32);
  const boxSecret = takeRandom(random, 32);
  const signPublicKey = ed25519PublicKeyFromSeed(signSeed); // = nacl.sign.keyPair.fromSeed(signSeed).publicKey, ~20x faster
  const signSecretKey = concatBytes(signSeed, signPublicKey); // tweetnacl's layout: seed || public key
  signSeed.fill(0);
  const box = nacl.box.keyPair.fromSecretKey(boxSecret);
  boxSecret.fill(0);
  return { id, signPublicKey, signSecretKey, boxPublicKey: box.publicKey, boxSecretKey: box.secretKey };
}

/**
 * The public half of an identity (fresh copies of the keys).
 * @example const pub = publicIdentityOf(me);
 */
export function publicIdentityOf(identity: Identity): PublicIdentity {
  return { id: identity.id, signPublicKey: identity.signPublicKey.slice(), boxPublicKey: identity.boxPublicKey.slice() };
}

/**
 * A short human-comparable fingerprint of a signing key: first 16 bytes of its SHA-256, hex, in groups of 4.
 * @example fingerprint(me.signPublicKey) // '3f2a:9c41:...' (8 groups)
 */
export function fingerprint(signPublicKey: Uint8Array): string {
  assertBytes('signPublicKey', signPublicKey, 32);
  const hex = toHex(sha256(signPublicKey).subarray(0, 16));
  return hex.match(/.{4}/g)!.join(':');
}

/** Throws unless the secret keys produce the public keys (catches mixed-up or corrupted files). */
function assertKeysMatch(identity: Identity): void {
  const derived = ed25519PublicKeyFromSeed(identity.signSecretKey.subarray(0, 32));
  const signOk =
    constantTimeEqual(derived, identity.signPublicKey) && constantTimeEqual(identity.signSecretKey.subarray(32), identity.signPublicKey);
  if (!signOk) throw new Error(`identity ${identity.id}: signPublicKey does not match signSecretKey`);
  if (!constantTimeEqual(nacl.scalarMult.base(identity.boxSecretKey), identity.boxPublicKey)) {
    throw new Error(`identity ${identity.id}: boxPublicKey does not match boxSecretKey`);
  }
}

/**
 * JSON text of a full identity (secret keys in base64). Write it only through writeIdentityFile.
 * @example const text = serializeIdentity(me);
 */
export function serializeIdentity(identity: Identity): string {
  assertId('id', identity.id);
  assertBytes('signPublicKey', identity.signPublicKey, 32);
  assertBytes('signSecretKey', identity.signSecretKey, 64);
  assertBytes('boxPublicKey', identity.boxPublicKey, 32);
  assertBytes('boxSecretKey', identity.boxSecretKey, 32);
  const doc = {
    format: IDENTITY_FORMAT,
    id: identity.id,
    signPublicKey: toBase64(identity.signPublicKey),
    signSecretKey: toBase64(identity.signSecretKey),
    boxPublicKey: toBase64(identity.boxPublicKey),
    boxSecretKey: toBase64(identity.boxSecretKey),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Parses JSON text into an object and reads its `format`, or throws a short error. */
export function readFormat(text: string): { doc: Record<string, unknown>; format: unknown } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('not an identity file: invalid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an identity file: expected a JSON object');
  return { doc: doc as Record<string, unknown>, format: (doc as Record<string, unknown>).format };
}

function keyField(doc: Record<string, unknown>, name: string, length: number): Uint8Array {
  const value = doc[name];
  if (typeof value !== 'string') throw new Error(`identity field ${name} is missing`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(value);
  } catch {
    throw new Error(`identity field ${name} is not valid base64`);
  }
  if (bytes.length !== length) throw new Error(`identity field ${name} must be ${length} bytes, got ${bytes.length}`);
  return bytes;
}

function idField(doc: Record<string, unknown>): string {
  assertId('identity field id', doc.id);
  return doc.id;
}

/**
 * Parses and checks a full identity: format, key lengths, and that public keys match secret keys.
 * @example const me = parseIdentity(fs.readFileSync(path, 'utf8'));
 */
export function parseIdentity(text: string): Identity {
  const { doc, format } = readFormat(text);
  if (format === PUBLIC_IDENTITY_FORMAT) {
    throw new Error(
      `this is a public identity (${PUBLIC_IDENTITY_FORMAT}) without secret keys; a private identity (${IDENTITY_FORMAT}) is needed here`,
    );
  }
  if (format !== IDENTITY_FORMAT) throw new Error(`unsupported identity format ${JSON.stringify(format)}, expected ${IDENTITY_FORMAT}`);
  const identity: Identity = {
    id: idField(doc),
    signPublicKey: keyField(doc, 'signPublicKey', 32),
    signSecretKey: keyField(doc, 'signSecretKey', 64),
    boxPublicKey: keyField(doc, 'boxPublicKey', 32),
    boxSecretKey: keyField(doc, 'boxSecretKey', 32),
  };
  assertKeysMatch(identity);
  return identity;
}

/**
 * JSON text of a public identity, with its fingerprint for humans to compare out of band.
 * @example fs.writeFileSync('st-marys.pub.json', serializePublicIdentity(publicIdentityOf(me)));
 */
export function serializePublicIdentity(pub: PublicIdentity): string {
  assertId('id', pub.id);
  assertBytes('signPublicKey', pub.signPublicKey, 32);
  assertBytes('boxPublicKey', pub.boxPublicKey, 32);
  const doc = {
    format: PUBLIC_IDENTITY_FORMAT,
    id: pub.id,
    signPublicKey: toBase64(pub.signPublicKey),
    boxPublicKey: toBase64(pub.boxPublicKey),
    fingerprint: fingerprint(pub.signPublicKey),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Parses a public identity; refuses a private one (so secret keys are never handled as public) and a wrong fingerprint.
 * @example const peer = parsePublicIdentity(text);
 */
export function parsePublicIdentity(text: string): PublicIdentity {
  const { doc, format } = readFormat(text);
  if (format === IDENTITY_FORMAT) {
    throw new Error(
      `this is a private identity (${IDENTITY_FORMAT}) holding secret keys; pass its public identity (${PUBLIC_IDENTITY_FORMAT}) instead`,
    );
  }
  if (format !== PUBLIC_IDENTITY_FORMAT)
    throw new Error(`unsupported public identity format ${JSON.stringify(format)}, expected ${PUBLIC_IDENTITY_FORMAT}`);
  const pub: PublicIdentity = {
    id: idField(doc),
    signPublicKey: keyField(doc, 'signPublicKey', 32),
    boxPublicKey: keyField(doc, 'boxPublicKey', 32),
  };
  const expected = fingerprint(pub.signPublicKey);
  if (doc.fingerprint !== expected) {
    throw new Error(
      `public identity ${pub.id}: fingerprint ${JSON.stringify(doc.fingerprint)} does not match its signPublicKey (${expected})`,
    );
  }
  return pub;
}
