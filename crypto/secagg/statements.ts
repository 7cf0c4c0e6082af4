/**
 * What each participant signs, byte for byte (domain-separated, length-prefixed, bound to the context digest), and
 * Ed25519 signing through node:crypto with tweetnacl-format keys (same signatures as nacl.sign.detached, ~70x faster).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { concatBytes, lengthPrefixed, u32le, utf8Encode } from '../bytes.js';
import { sha256 } from '../hash.js';
import type { Complaint, RevealedShare } from './messages.js';

const PKCS8_ED25519 = Uint8Array.from(Buffer.from('302e020100300506032b657004220420', 'hex'));
const SPKI_ED25519 = Uint8Array.from(Buffer.from('302a300506032b6570032100', 'hex'));
const publicKeys = new Map<string, KeyObject>();

/** A signing function for a tweetnacl 64-byte secret key (seed || public key); the node KeyObject is built once. */
export function ed25519Signer(signSecretKey: Uint8Array): (message: Uint8Array) => Uint8Array {
  if (!(signSecretKey instanceof Uint8Array) || signSecretKey.length !== 64)
    throw new TypeError('signSecretKey must be 64 bytes (tweetnacl format)');
  const der = concatBytes(PKCS8_ED25519, signSecretKey.subarray(0, 32));
  const key = createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' });
  der.fill(0);
  return (message) => new Uint8Array(sign(null, message, key));
}

/** One Ed25519 signature with a tweetnacl 64-byte secret key (same bytes as nacl.sign.detached). */
export function signDetached(message: Uint8Array, signSecretKey: Uint8Array): Uint8Array {
  return ed25519Signer(signSecretKey)(message);
}

/** True when `signature` is a valid Ed25519 signature of `message` by `signPublicKey`; false on any malformed input. */
export function verifyDetached(message: Uint8Array, signature: unknown, signPublicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== 64 || signPublicKey.length !== 32) return false;
  const cacheKey = Buffer.from(signPublicKey).toString('hex');
  let key = publicKeys.get(cacheKey);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(concatBytes(SPKI_ED25519, signPublicKey)), format: 'der', type: 'spki' });
    if (publicKeys.size > 10_000) publicKeys.clear();
    publicKeys.set(cacheKey, key);
  }
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

const tag = (name: string) => utf8Encode(`cohort/secagg/${name}/v1`);
const ADVERTISE = tag('advertise');
const SHARE = tag('share');
const MASKED = tag('masked-input');
const UNMASK = tag('unmask');
const CONSISTENCY = tag('consistency');
const SHARE_COMMIT = tag('share-commitment');
const SEED_COMMIT = tag('seed-commitment');

export function advertiseStatement(context: Uint8Array, from: string, cPublicKey: Uint8Array, sPublicKey: Uint8Array): Uint8Array {
  return concatBytes(ADVERTISE, context, lengthPrefixed(from), cPublicKey, sPublicKey);
}

export function shareStatement(args: {
  context: Uint8Array;
  from: string;
  to: string;
  x: number;
  seedCommitment: Uint8Array;
  sCommitment: Uint8Array;
  bCommitment: Uint8Array;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}): Uint8Array {
  return concatBytes(
    SHARE,
    args.context,
    lengthPrefixed(args.from),
    lengthPrefixed(args.to),
    u32le(args.x),
    args.seedCommitment,
    args.sCommitment,
    args.bCommitment,
    sha256([args.nonce, args.ciphertext]),
  );
}

function complaintsBytes(complaints: readonly Complaint[]): Uint8Array {
  return concatBytes(u32le(complaints.length), ...complaints.flatMap((c) => [lengthPrefixed(c.against), lengthPrefixed(c.reason)]));
}

export function maskedStatement(context: Uint8Array, from: string, masked: Uint32Array, complaints: readonly Complaint[]): Uint8Array {
  const bytes = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
  return concatBytes(MASKED, context, lengthPrefixed(from), u32le(masked.length), sha256(bytes), complaintsBytes(complaints));
}

function revealedBytes(shares: readonly RevealedShare[]): Uint8Array {
  return concatBytes(
    u32le(shares.length),
    ...shares.flatMap((s) => [lengthPrefixed(s.of), u32le(s.x), lengthPrefixed(s.share), lengthPrefixed(s.salt)]),
  );
}

export function unmaskStatement(
  context: Uint8Array,
  from: string,
  seedShares: readonly RevealedShare[],
  keyShares: readonly RevealedShare[],
): Uint8Array {
  return concatBytes(UNMASK, context, lengthPrefixed(from), revealedBytes(seedShares), revealedBytes(keyShares));
}

/**
 * What a survivor signs in the consistency check: the survivor set it was told, sorted, so any two participants that
 * sign the same set sign the same bytes.
 */
export function consistencyStatement(context: Uint8Array, survivors: readonly string[]): Uint8Array {
  const sorted = [...survivors].sort();
  return concatBytes(CONSISTENCY, context, u32le(sorted.length), ...sorted.map((id) => lengthPrefixed(id)));
}

/** Commitment to one share: SHA-256(tag || context || dealer || holder || x || kind || salt || share); salt is 32 secret random bytes. */
export function shareCommitment(args: {
  context: Uint8Array;
  dealer: string;
  holder: string;
  x: number;
  kind: 's' | 'b';
  salt: Uint8Array;
  share: Uint8Array;
}): Uint8Array {
  return sha256([
    SHARE_COMMIT,
    args.context,
    lengthPrefixed(args.dealer),
    lengthPrefixed(args.holder),
    u32le(args.x),
    utf8Encode(args.kind),
    args.salt,
    args.share,
  ]);
}

/** Commitment to a self-mask seed b (32 uniformly random bytes, so the hash hides it). */
export function seedCommitment(context: Uint8Array, dealer: string, seed: Uint8Array): Uint8Array {
  return sha256([SEED_COMMIT, context, lengthPrefixed(dealer), seed]);
}
