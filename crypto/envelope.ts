/**
 * Model-update envelopes: encrypted to the coordinator's X25519 key, signed by the institution, bound to (federation, round, institution).
 *
 * Layout (all integers u32 little-endian; F, I = byte lengths of federation and institution, 1..128; P = plaintext length):
 *   offset        size  field
 *   0             4     magic "CENV" (43 45 4E 56)
 *   4             1     format version = 2 (X25519 + HKDF-SHA256 + ChaCha20-Poly1305 + Ed25519; v2 signs header and tag, not the ciphertext)
 *   5             32    ephemeral X25519 public key (fresh per envelope)
 *   37            12    AEAD nonce (random)
 *   49            4     F
 *   53            F     federation, UTF-8
 *   53+F          4     round
 *   57+F          4     I
 *   61+F          I     institution, UTF-8
 *   61+F+I        4     P
 *   65+F+I        32    SHA-256 of the plaintext
 *   H = 97+F+I    P     ciphertext                      (bytes [0, H) are the header = the AEAD's associated data)
 *   H+P           16    Poly1305 tag
 *   H+P+16        64    Ed25519 signature by the sender over
 *                       "cohort/update/v2" || lp(federation) || u32(round) || lp(institution) || sha256(plaintext) || sha256(header || tag)
 * Key: HKDF-SHA256(ikm = X25519(ephemeral, recipient), salt = ephPk || recipientPk, info = "cohort/envelope/v1", 32 bytes).
 * Open order: parse -> signature (cheap rejection of a forged header) -> context -> decrypt (AEAD tag) -> plaintext digest.
 * One SHA-256 pass over the payload on each side (the plaintext's); the signature covers it through that digest. See docs/reference/wire-protocol.md, "Update envelopes".
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, type Hash } from 'node:crypto';
import { asUint8Array, concatBytes, constantTimeEqual, toHex, utf8Encode } from './bytes.js';
import {
  encodeHeader,
  headerLength,
  NONCE_BYTES,
  parseEnvelope,
  SIGNATURE_BYTES,
  signingMessage,
  TAG_BYTES,
  type EnvelopeContext,
} from './envelope-layout.js';
import { verifyEd25519 } from './ed25519-native.js';
import { x25519, x25519Ephemeral, x25519KeyPair } from './x25519-native.js';
import { signEd25519 } from './ed25519-sign.js';
import { sha256 } from './hash.js';
import { defaultRandom, takeRandom, type RandomSource } from './random.js';
import { assertBytes, assertId, assertU32 } from './validate.js';

export type { EnvelopeContext } from './envelope-layout.js';

export type OpenEnvelopeResult =
  | { ok: true; payload: Uint8Array; payloadDigest: string; context: EnvelopeContext }
  | { ok: false; reason: 'MALFORMED' | 'WRONG_CONTEXT' | 'BAD_SIGNATURE' | 'DECRYPT_FAILED'; message: string };

const AEAD = 'chacha20-poly1305';
const KDF_INFO = utf8Encode('cohort/envelope/v1');

function assertContext(name: string, context: EnvelopeContext): void {
  if (typeof context !== 'object' || context === null) throw new TypeError(`${name} must be an object`);
  assertId(`${name}.federation`, context.federation);
  assertU32(`${name}.round`, context.round);
  assertId(`${name}.institution`, context.institution);
}

/** One-time AEAD key from an X25519 shared secret; the caller zeroes it. */
function deriveKey(shared: Uint8Array, ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', shared, concatBytes(ephemeralPublicKey, recipientPublicKey), KDF_INFO, 32));
}

const isAllZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/**
 * Builds a payload whose length is known only once it is built: it asks `allocate` for exactly its byte length and
 * returns the filled array (the envelope's own payload region, so the payload is never copied).
 */
export type PayloadWriter = (allocate: (byteLength: number) => Uint8Array<ArrayBuffer>) => Uint8Array;

/**
 * The AEAD runs over the envelope's own bytes in slices of this size: node:crypto has no in-place mode, and a
 * small output per slice, copied back at once, spares a second model-sized buffer (and the collector its pages).
 */
const CIPHER_SLICE_BYTES = 64 * 1024;

/**
 * Runs `cipher` over `bytes` slice by slice into `target` (the same bytes, or ones that end no later, so a slice never
 * overwrites input not yet read); with `hash`, each output slice is hashed too, while it is in cache (decryption and
 * the plaintext's digest in one pass over the payload).
 */
function cipherInto(cipher: { update(data: Uint8Array): Uint8Array }, bytes: Uint8Array, target: Uint8Array, hash?: Hash): void {
  for (let at = 0; at < bytes.length; at += CIPHER_SLICE_BYTES) {
    const out = cipher.update(bytes.subarray(at, at + CIPHER_SLICE_BYTES));
    target.set(out, at);
    hash?.update(out);
  }
}

/** The envelope's bytes with the payload in place at `offset` (copied there unless a writer built it there). */
function layOut(payload: Uint8Array | PayloadWriter, offset: number): { envelope: Uint8Array; length: number } {
  const allocate = (length: number): Uint8Array<ArrayBuffer> => {
    assertU32('payload length', length);
    return new Uint8Array(offset + length + TAG_BYTES + SIGNATURE_BYTES);
  };
  if (typeof payload !== 'function') {
    assertBytes('payload', payload);
    const envelope = allocate(payload.length);
    envelope.set(payload, offset);
    return { envelope, length: payload.length };
  }
  let envelope: Uint8Array<ArrayBuffer> | undefined;
  const built = payload((length) => {
    envelope = allocate(length);
    return envelope.subarray(offset, offset + length);
  });
  assertBytes('payload', built);
  const inPlace =
    envelope !== undefined &&
    built.buffer === envelope.buffer &&
    built.byteOffset === envelope.byteOffset + offset &&
    built.length === envelope.length - offset - TAG_BYTES - SIGNATURE_BYTES;
  return inPlace ? { envelope: envelope as Uint8Array, length: built.length } : layOut(built, offset);
}

/**
 * Encrypts `payload` to the recipient and signs it as the sender, for exactly this federation, round and institution.
 * `payload` may be a PayloadWriter, which builds the payload inside the envelope (it is then encrypted in place:
 * the writer must keep no view of it).
 * @example const envelope = sealEnvelope({ payload, context: { federation: 'fed', round: 3, institution: 'st-marys' }, recipientBoxPublicKey: coordinator.boxPublicKey, senderSignSecretKey: me.signSecretKey });
 */
export function sealEnvelope(args: {
  payload: Uint8Array | PayloadWriter;
  context: EnvelopeContext;
  recipientBoxPublicKey: Uint8Array;
  senderSignSecretKey: Uint8Array;
  random?: RandomSource;
}): Uint8Array {
  const { context, recipientBoxPublicKey, senderSignSecretKey } = args;
  if (typeof args.payload !== 'function') {
    assertBytes('payload', args.payload);
    assertU32('payload length', args.payload.length);
  }
  assertContext('context', context);
  assertBytes('recipientBoxPublicKey', recipientBoxPublicKey, 32);
  assertBytes('senderSignSecretKey', senderSignSecretKey, 64);
  const random = args.random ?? defaultRandom;

  const headerBytes = headerLength(context);
  const { envelope, length } = layOut(args.payload, headerBytes);
  const payload = envelope.subarray(headerBytes, headerBytes + length);
  const digest = sha256(payload);
  // node:crypto's X25519, as when opening (tweetnacl's two scalar multiplications were most of a site's sealing time);
  // the ephemeral key pair from OpenSSL's generator, or from `random` when one is given (test vectors).
  let exchanged: ReturnType<typeof x25519>;
  if (args.random === undefined) exchanged = x25519Ephemeral(recipientBoxPublicKey);
  else {
    const ephemeralSecret = takeRandom(random, 32);
    exchanged = x25519(ephemeralSecret, recipientBoxPublicKey);
    ephemeralSecret.fill(0);
  }
  if (!exchanged || isAllZero(exchanged.shared))
    throw new TypeError('recipientBoxPublicKey is not a usable X25519 public key (low-order point)');
  const { shared, publicKey: ephemeralPublicKey } = exchanged;
  const key = deriveKey(shared, ephemeralPublicKey, recipientBoxPublicKey);
  shared.fill(0);
  const nonce = takeRandom(random, NONCE_BYTES);
  const header = encodeHeader(ephemeralPublicKey, nonce, context, payload.length, digest);
  if (header.length !== headerBytes) throw new Error(`envelope header is ${header.length} bytes, ${headerBytes} expected`);
  envelope.set(header, 0);
  try {
    const cipher = createCipheriv(AEAD, key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(header, { plaintextLength: payload.length });
    cipherInto(cipher, payload, payload); // the plaintext becomes the ciphertext where it lies
    cipher.final();
    envelope.set(cipher.getAuthTag(), header.length + payload.length);
  } finally {
    key.fill(0);
  }
  const tagEnd = header.length + payload.length + TAG_BYTES;
  const signature = signEd25519(
    signingMessage(context, digest, header, envelope.subarray(header.length + payload.length, tagEnd)),
    senderSignSecretKey,
  );
  envelope.set(signature, tagEnd);
  return envelope;
}

/** The fields that differ between what the envelope says and what was expected, or null. */
function contextMismatch(got: EnvelopeContext, expected: EnvelopeContext): string | null {
  const diffs: string[] = [];
  for (const field of ['federation', 'round', 'institution'] as const) {
    if (got[field] !== expected[field])
      diffs.push(`${field} is ${JSON.stringify(got[field])}, expected ${JSON.stringify(expected[field])}`);
  }
  return diffs.length ? `envelope ${diffs.join('; ')}` : null;
}

/**
 * Verifies, checks the context and decrypts. Authentication failures come back as `{ ok: false }`, never thrown;
 * only misuse (wrong key sizes, invalid `expected`) throws. With `inPlace`, the plaintext is decrypted into the
 * envelope's own bytes (no second payload-sized buffer): the envelope is consumed, and the payload returned is a
 * view into it that starts at a multiple of 4 in its ArrayBuffer (a weights frame in it decodes without a copy).
 * @example const opened = openEnvelope(bytes, { recipientBoxSecretKey: coordinator.boxSecretKey, senderSignPublicKey: inst.signPublicKey, expected: { federation, round, institution } });
 */
export function openEnvelope(
  envelope: Uint8Array,
  args: {
    recipientBoxSecretKey: Uint8Array;
    /** The recipient's box public key, when the caller holds it (an identity): spares deriving it from the secret. */
    recipientBoxPublicKey?: Uint8Array;
    senderSignPublicKey: Uint8Array;
    expected: EnvelopeContext;
    inPlace?: boolean;
  },
): OpenEnvelopeResult {
  assertBytes('recipientBoxSecretKey', args.recipientBoxSecretKey, 32);
  if (args.recipientBoxPublicKey !== undefined) assertBytes('recipientBoxPublicKey', args.recipientBoxPublicKey, 32);
  assertBytes('senderSignPublicKey', args.senderSignPublicKey, 32);
  assertContext('expected', args.expected);
  const parsed = parseEnvelope(envelope);
  if (typeof parsed === 'string') return { ok: false, reason: 'MALFORMED', message: parsed };

  const message = signingMessage(parsed.context, parsed.payloadDigest, parsed.header, parsed.tag);
  // node:crypto's Ed25519 (OpenSSL): tweetnacl's verify costs ~8 ms per update, as much as hashing 13 MB.
  if (!verifyEd25519(message, parsed.signature, args.senderSignPublicKey)) {
    return {
      ok: false,
      reason: 'BAD_SIGNATURE',
      message: `envelope signature does not verify with the public key of ${args.expected.institution}`,
    };
  }
  const mismatch = contextMismatch(parsed.context, args.expected);
  if (mismatch) return { ok: false, reason: 'WRONG_CONTEXT', message: mismatch };

  // node:crypto's X25519 (OpenSSL refuses an all-zero result: a low-order point).
  const exchanged = args.recipientBoxPublicKey
    ? x25519KeyPair(args.recipientBoxSecretKey, args.recipientBoxPublicKey, parsed.ephemeralPublicKey)
    : x25519(args.recipientBoxSecretKey, parsed.ephemeralPublicKey);
  if (!exchanged || isAllZero(exchanged.shared))
    return { ok: false, reason: 'DECRYPT_FAILED', message: 'envelope ephemeral key is a low-order point' };
  const key = deriveKey(exchanged.shared, parsed.ephemeralPublicKey, exchanged.publicKey);
  exchanged.shared.fill(0);
  // In place, the plaintext goes 0-3 bytes below the ciphertext (over the end of the header, already taken as the
  // AEAD's associated data), so that it starts 4-aligned; each slice lands below bytes not yet decrypted.
  const signedDigest = args.inPlace ? parsed.payloadDigest.slice() : parsed.payloadDigest;
  const headerEnd = parsed.header.length;
  const at = headerEnd - ((envelope.byteOffset + headerEnd) % 4);
  let plaintext: Uint8Array;
  // The plaintext's SHA-256 is taken slice by slice as it is decrypted; it is compared with the signed digest below,
  // after the AEAD tag, and nothing is returned before both match.
  const hash = createHash('sha256');
  try {
    const decipher = createDecipheriv(AEAD, key, parsed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(parsed.header, { plaintextLength: parsed.payloadLength });
    decipher.setAuthTag(parsed.tag);
    if (args.inPlace) {
      plaintext = envelope.subarray(at, at + parsed.payloadLength);
      cipherInto(decipher, parsed.ciphertext, plaintext, hash);
    } else {
      plaintext = decipher.update(parsed.ciphertext);
      hash.update(plaintext);
    }
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      return {
        ok: false,
        reason: 'DECRYPT_FAILED',
        message: 'envelope does not decrypt with this key (wrong recipient or corrupted ciphertext)',
      };
    }
  } finally {
    key.fill(0);
  }
  const digest = new Uint8Array(hash.digest());
  if (!constantTimeEqual(digest, signedDigest)) {
    plaintext.fill(0);
    return { ok: false, reason: 'DECRYPT_FAILED', message: 'decrypted payload does not match the signed digest' };
  }
  return { ok: true, payload: asUint8Array(plaintext), payloadDigest: toHex(digest), context: parsed.context };
}

/**
 * Reads the context, plaintext digest and plaintext size without keys, for audit records. UNVERIFIED: trust only after openEnvelope.
 * @example const info = peekEnvelope(bytes); // { context, payloadDigest, bytes } or null if malformed
 */
export function peekEnvelope(envelope: Uint8Array): { context: EnvelopeContext; payloadDigest: string; bytes: number } | null {
  const parsed = parseEnvelope(envelope);
  if (typeof parsed === 'string') return null;
  return { context: { ...parsed.context }, payloadDigest: toHex(parsed.payloadDigest), bytes: parsed.payloadLength };
}
