/**
 * The mask generator: a 32-byte seed expanded into words of Z_(2^32) by AES-256-CTR over zeros (node:crypto, AES-NI),
 * keyed by HKDF-SHA256(seed, info = "cohort/secagg/prg/v1" || lp(kind) || lp(federation) || u32(round)), so that one seed
 * never yields the same stream for two purposes (self mask, pairwise mask, graph) or in two rounds or federations.
 * Words are read little-endian.
 */
import { createCipheriv, hkdfSync } from 'node:crypto';
import { endianness } from 'node:os';
import { concatBytes, lengthPrefixed, u32le, utf8Encode } from '../bytes.js';
import { assertBytes, assertId, assertU32 } from '../validate.js';

export type PrgKind = 'self-mask' | 'pair-mask' | 'graph';

export interface PrgContext {
  kind: PrgKind;
  federation: string;
  round: number;
}

/** The keystream cipher: ~25% faster than chacha20 here with AES-NI (tests/crypto/secagg/prg-bench.ts). */
export const PRG_CIPHER = 'aes-256-ctr';
const INFO_PREFIX = utf8Encode('cohort/secagg/prg/v1');
const CHUNK_WORDS = 16384;
const ZEROS = new Uint8Array(4 * CHUNK_WORDS);
const IV = new Uint8Array(16);
const BIG_ENDIAN_HOST = endianness() === 'BE';

function prgKey(seed: Uint8Array, context: PrgContext): Uint8Array {
  assertBytes('seed', seed, 32);
  if (context.kind !== 'self-mask' && context.kind !== 'pair-mask' && context.kind !== 'graph')
    throw new TypeError(`unknown PRG kind ${String(context.kind)}`);
  assertId('federation', context.federation);
  assertU32('round', context.round);
  const info = concatBytes(INFO_PREFIX, lengthPrefixed(context.kind), lengthPrefixed(context.federation), u32le(context.round));
  return new Uint8Array(hkdfSync('sha256', seed, new Uint8Array(0), info, 32));
}

/** Calls `visit(words, offset)` on consecutive keystream chunks covering `length` words. */
function stream(seed: Uint8Array, length: number, context: PrgContext, visit: (words: Uint32Array, offset: number) => void): void {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}`);
  const key = prgKey(seed, context);
  const cipher = createCipheriv(PRG_CIPHER, key, IV);
  key.fill(0);
  const aligned = new Uint32Array(CHUNK_WORDS);
  const alignedBytes = new Uint8Array(aligned.buffer);
  for (let offset = 0; offset < length; offset += CHUNK_WORDS) {
    const count = Math.min(CHUNK_WORDS, length - offset);
    const bytes = cipher.update(ZEROS.subarray(0, 4 * count));
    alignedBytes.set(bytes);
    bytes.fill(0);
    if (BIG_ENDIAN_HOST) for (let i = 0; i < count; i++) aligned[i] = Buffer.from(alignedBytes.buffer, 4 * i, 4).readUInt32LE(0);
    visit(count === CHUNK_WORDS ? aligned : aligned.subarray(0, count), offset);
  }
  aligned.fill(0);
}

/**
 * `length` pseudo-random words from `seed` for one purpose.
 * @example const mask = expandMask(seed, 199211, { kind: 'self-mask', federation: 'cardio', round: 3 });
 */
export function expandMask(seed: Uint8Array, length: number, context: PrgContext): Uint32Array {
  const out = new Uint32Array(length);
  stream(seed, length, context, (words, offset) => out.set(words, offset));
  return out;
}

/**
 * target += sign * PRG(seed) (mod 2^32), in place, without materialising the whole mask.
 * @example applyMask(y, pairSeed, -1, { kind: 'pair-mask', federation: 'cardio', round: 3 });
 */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1, context: PrgContext): void {
  if (!(target instanceof Uint32Array)) throw new TypeError('target must be a Uint32Array');
  if (sign !== 1 && sign !== -1) throw new RangeError(`sign must be 1 or -1, got ${String(sign)}`);
  stream(seed, target.length, context, (words, offset) => {
    if (sign === 1) for (let i = 0; i < words.length; i++) target[offset + i] = (target[offset + i] as number) + (words[i] as number);
    else for (let i = 0; i < words.length; i++) target[offset + i] = (target[offset + i] as number) - (words[i] as number);
  });
}
