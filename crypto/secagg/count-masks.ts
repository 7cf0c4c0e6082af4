/**
 * Pairwise masking of integer count vectors (federated analytics): each pair of sites agrees a seed by X25519 (pairSeed)
 * and one adds, the other subtracts, the same AES-CTR stream (applyMask), so the masks cancel in the sum mod 2^32 and a
 * single masked vector is uniformly random to whoever lacks the pair secrets. No Shamir shares: a site that drops after
 * masking leaves the sum unusable, and the coordinator asks the survivors again under a new attempt number (fresh masks).
 */
import { concatBytes, lengthPrefixed, u32le, utf8Encode } from '../bytes.js';
import { pairSeed } from './keys.js';
import { applyMask } from './prg.js';

export interface CountMaskArgs {
  /** This site's id and its X25519 secret key for this query. */
  me: string;
  secretKey: Uint8Array;
  /** Every masking site's X25519 public key, this site's included. */
  peers: Readonly<Record<string, Uint8Array>>;
  federation: string;
  queryId: string;
  attempt: number;
}

/** Binds the seeds to the query, the attempt and the exact set of peers (sorted ids). */
function maskContext(args: CountMaskArgs): Uint8Array {
  const ids = Object.keys(args.peers).sort();
  return concatBytes(
    utf8Encode('cohort/analytics/count-mask/v1'),
    lengthPrefixed(args.queryId),
    u32le(args.attempt),
    ...ids.map((id) => lengthPrefixed(id)),
  );
}

/**
 * The counts plus, for each other peer p, +PRG(s_{me,p}) when me < p and -PRG otherwise (mod 2^32). Throws on a
 * low-order peer key or when this site is not among the peers.
 * @example const masked = maskCounts(Uint32Array.from([12, 3]), { me: 'a', secretKey, peers, federation: 'f', queryId: 'q1', attempt: 0 })
 */
export function maskCounts(counts: Uint32Array, args: CountMaskArgs): Uint32Array {
  if (!(args.me in args.peers)) throw new RangeError(`${args.me} is not among the masking peers`);
  const out = Uint32Array.from(counts);
  const context = maskContext(args);
  for (const [peer, publicKey] of Object.entries(args.peers)) {
    if (peer === args.me) continue;
    const seed = pairSeed({ secretKey: args.secretKey, peerPublicKey: publicKey, context, a: args.me, b: peer });
    if (!seed) throw new RangeError(`peer ${peer}'s key is a low-order point`);
    applyMask(out, seed, args.me < peer ? 1 : -1, { kind: 'pair-mask', federation: args.federation, round: args.attempt });
    seed.fill(0);
  }
  return out;
}

/**
 * The sum of masked vectors mod 2^32: the plain sum of the counts when every peer's vector is in it.
 * @example sumMasked([a, b, c])
 */
export function sumMasked(vectors: readonly Uint32Array[]): Uint32Array {
  const length = vectors[0]?.length ?? 0;
  const sum = new Uint32Array(length);
  for (const v of vectors) {
    if (v.length !== length) throw new RangeError(`masked vectors differ in length: ${v.length} vs ${length}`);
    for (let i = 0; i < length; i++) sum[i] = (sum[i] as number) + (v[i] as number);
  }
  return sum;
}

/**
 * Words as little-endian bytes, and back (the wire form of a masked vector).
 * @example wordsFromBytes(wordsToBytes(Uint32Array.from([1, 2]))) // Uint32Array [1, 2]
 */
export function wordsToBytes(words: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint32(4 * i, w, true));
  return bytes;
}

export function wordsFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new RangeError(`a masked vector is whole 32-bit words, got ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(4 * i, true));
}
