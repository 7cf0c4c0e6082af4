/** Key agreement for secure aggregation: X25519 (tweetnacl) then HKDF-SHA256, for share encryption keys and pairwise mask seeds. */
import { hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { concatBytes, lengthPrefixed, utf8Encode } from '../bytes.js';
import { takeRandom, type RandomSource } from '../random.js';

const SHARE_KEY = utf8Encode('cohort/secagg/share-key/v1');
const PAIR_SEED = utf8Encode('cohort/secagg/pair-seed/v1');

export interface X25519KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A fresh X25519 key pair from `random` (per round: c for share encryption, s for mask agreement). */
export function generateX25519(random: RandomSource): X25519KeyPair {
  const secretKey = takeRandom(random, 32);
  return { publicKey: nacl.scalarMult.base(secretKey), secretKey };
}

/** The X25519 public key of a secret key (clamping is applied by scalarMult, so any 32 bytes are a secret key). */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return nacl.scalarMult.base(secretKey);
}

/** HKDF of the X25519 shared secret, or null when the peer key is a low-order point (all-zero shared secret). */
function agree(secretKey: Uint8Array, peerPublicKey: Uint8Array, context: Uint8Array, info: Uint8Array): Uint8Array | null {
  const shared = nacl.scalarMult(secretKey, peerPublicKey);
  const zero = shared.every((b) => b === 0);
  const key = zero ? null : new Uint8Array(hkdfSync('sha256', shared, context, info, 32));
  shared.fill(0);
  return key;
}

/** The AEAD key for shares sent by `dealer` to `holder` (direction-bound); both derive it from their own c secret key. */
export function shareKey(args: {
  secretKey: Uint8Array;
  peerPublicKey: Uint8Array;
  context: Uint8Array;
  dealer: string;
  holder: string;
}): Uint8Array | null {
  return agree(
    args.secretKey,
    args.peerPublicKey,
    args.context,
    concatBytes(SHARE_KEY, lengthPrefixed(args.dealer), lengthPrefixed(args.holder)),
  );
}

/** The pairwise mask seed s_uv of two participants, symmetric in (a, b): ids are ordered before derivation. */
export function pairSeed(args: {
  secretKey: Uint8Array;
  peerPublicKey: Uint8Array;
  context: Uint8Array;
  a: string;
  b: string;
}): Uint8Array | null {
  const [lo, hi] = args.a < args.b ? [args.a, args.b] : [args.b, args.a];
  return agree(args.secretKey, args.peerPublicKey, args.context, concatBytes(PAIR_SEED, lengthPrefixed(lo), lengthPrefixed(hi)));
}
