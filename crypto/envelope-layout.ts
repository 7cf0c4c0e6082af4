/** The envelope's binary layout (internal): header encoding, strict parsing, and the bytes the sender signs. See docs/reference/wire-protocol.md, "Update envelopes". */
import { concatBytes, lengthPrefixed, u32le, utf8Decode, utf8Encode } from './bytes.js';
import { sha256 } from './hash.js';
import { ID_PATTERN } from './validate.js';

export interface EnvelopeContext {
  federation: string;
  round: number;
  institution: string;
}

export const MAGIC = utf8Encode('CENV');
export const FORMAT_VERSION = 2;
export const EPHEMERAL_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const DIGEST_BYTES = 32;
export const TAG_BYTES = 16;
export const SIGNATURE_BYTES = 64;
const MAX_ID_BYTES = 128;
const SIGN_DOMAIN = utf8Encode('cohort/update/v2');
/** magic, version, eph key, nonce, 3 x u32, 1-byte ids, length, digest, tag, signature. */
export const MIN_ENVELOPE_BYTES = 4 + 1 + 32 + 12 + 4 + 1 + 4 + 4 + 1 + 4 + 32 + TAG_BYTES + SIGNATURE_BYTES;

/** An envelope split into its fields; every array is a view into the envelope (no copies). */
export interface ParsedEnvelope {
  ephemeralPublicKey: Uint8Array;
  nonce: Uint8Array;
  context: EnvelopeContext;
  payloadLength: number;
  payloadDigest: Uint8Array;
  /** Bytes [0, H): the AEAD's associated data. */
  header: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  signature: Uint8Array;
}

/**
 * Byte length of the header of an envelope for `context` (97 + F + I), known before the payload is: what lets a
 * sealer place the payload at its final offset.
 */
export function headerLength(context: EnvelopeContext): number {
  return 97 + utf8Encode(context.federation).length + utf8Encode(context.institution).length;
}

/** Header bytes: magic || version || ephPk || nonce || lp(federation) || u32le(round) || lp(institution) || u32le(P) || sha256(plaintext). */
export function encodeHeader(
  ephemeralPublicKey: Uint8Array,
  nonce: Uint8Array,
  context: EnvelopeContext,
  payloadLength: number,
  payloadDigest: Uint8Array,
): Uint8Array {
  return concatBytes(
    MAGIC,
    Uint8Array.of(FORMAT_VERSION),
    ephemeralPublicKey,
    nonce,
    lengthPrefixed(context.federation),
    u32le(context.round),
    lengthPrefixed(context.institution),
    u32le(payloadLength),
    payloadDigest,
  );
}

/**
 * The message the sender signs: "cohort/update/v2" || lp(federation) || u32le(round) || lp(institution) || digest ||
 * sha256(header || tag). The plaintext is bound by its SHA-256 (in the header), the ciphertext by the AEAD tag: no
 * pass over the ciphertext (v1 hashed all of bytes [0, H+P+16) here).
 */
export function signingMessage(context: EnvelopeContext, payloadDigest: Uint8Array, header: Uint8Array, tag: Uint8Array): Uint8Array {
  return concatBytes(
    SIGN_DOMAIN,
    lengthPrefixed(context.federation),
    u32le(context.round),
    lengthPrefixed(context.institution),
    payloadDigest,
    sha256([header, tag]),
  );
}

/** Parses an envelope strictly; returns a short reason string for anything malformed. Never throws. */
export function parseEnvelope(envelope: unknown): ParsedEnvelope | string {
  if (!(envelope instanceof Uint8Array)) return 'envelope must be a Uint8Array';
  if (envelope.length < MIN_ENVELOPE_BYTES) return `envelope too short: ${envelope.length} bytes, at least ${MIN_ENVELOPE_BYTES} needed`;
  for (let i = 0; i < MAGIC.length; i++) if (envelope[i] !== MAGIC[i]) return 'not a cohort envelope (bad magic)';
  if (envelope[4] !== FORMAT_VERSION) return `unsupported envelope version ${envelope[4]}, expected ${FORMAT_VERSION}`;
  const view = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  let offset = 5;
  const take = (n: number): Uint8Array | null => {
    if (offset + n > envelope.length) return null;
    const out = envelope.subarray(offset, offset + n);
    offset += n;
    return out;
  };
  const u32 = (): number | null => {
    if (offset + 4 > envelope.length) return null;
    const value = view.getUint32(offset, true);
    offset += 4;
    return value;
  };
  const id = (): string | null => {
    const length = u32();
    if (length === null || length < 1 || length > MAX_ID_BYTES) return null;
    const bytes = take(length);
    if (bytes === null) return null;
    try {
      const text = utf8Decode(bytes);
      return ID_PATTERN.test(text) ? text : null;
    } catch {
      return null;
    }
  };
  const ephemeralPublicKey = take(EPHEMERAL_KEY_BYTES);
  const nonce = take(NONCE_BYTES);
  const federation = id();
  if (ephemeralPublicKey === null || nonce === null || federation === null)
    return 'envelope header is truncated or its federation is invalid';
  const round = u32();
  const institution = id();
  if (round === null || institution === null) return 'envelope header is truncated or its institution is invalid';
  const payloadLength = u32();
  const payloadDigest = take(DIGEST_BYTES);
  if (payloadLength === null || payloadDigest === null) return 'envelope header is truncated';
  const headerEnd = offset;
  const expected = headerEnd + payloadLength + TAG_BYTES + SIGNATURE_BYTES;
  if (envelope.length !== expected)
    return `envelope length ${envelope.length} does not match its header (${expected} bytes for a ${payloadLength}-byte payload)`;
  const tagStart = headerEnd + payloadLength;
  const signatureStart = tagStart + TAG_BYTES;
  return {
    ephemeralPublicKey,
    nonce,
    context: { federation, round, institution },
    payloadLength,
    payloadDigest,
    header: envelope.subarray(0, headerEnd),
    ciphertext: envelope.subarray(headerEnd, tagStart),
    tag: envelope.subarray(tagStart, signatureStart),
    signature: envelope.subarray(signatureStart),
  };
}
