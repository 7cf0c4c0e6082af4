/** Byte helpers shared by every crypto module: encodings, framing and constant-time comparison. */
import { timingSafeEqual } from 'node:crypto';

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX_PATTERN = /^(?:[0-9a-fA-F]{2})*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A plain Uint8Array view of a node Buffer (no copy), so callers never see Buffer-only methods. */
export function asUint8Array(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Standard base64 with padding.
 * @example toBase64(new Uint8Array([1, 2, 3])) // 'AQID'
 */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decodes standard padded base64; throws a TypeError on anything else (node's decoder silently skips junk).
 * @example fromBase64('AQID') // Uint8Array [1, 2, 3]
 */
export function fromBase64(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`base64 input must be a string, got ${typeof text}`);
  if (!BASE64_PATTERN.test(text)) throw new TypeError('invalid base64');
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (toBase64(bytes) !== text) throw new TypeError('invalid base64 (non-canonical padding bits)');
  return bytes;
}

/**
 * Lowercase hex.
 * @example toHex(new Uint8Array([0xab, 1])) // 'ab01'
 */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Decodes hex (either case, even length); throws a TypeError on anything else.
 * @example fromHex('ab01') // Uint8Array [171, 1]
 */
export function fromHex(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`hex input must be a string, got ${typeof text}`);
  if (!HEX_PATTERN.test(text)) throw new TypeError('invalid hex');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/**
 * UTF-8 bytes of a string.
 * @example utf8Encode('cohort') // Uint8Array [99, 111, ...]
 */
export function utf8Encode(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`expected a string, got ${typeof text}`);
  return encoder.encode(text);
}

/**
 * Strict UTF-8 decoding; throws a TypeError on invalid sequences.
 * @example utf8Decode(utf8Encode('ok')) // 'ok'
 */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Concatenates byte arrays into a new one.
 * @example concatBytes(new Uint8Array([1]), new Uint8Array([2, 3])) // [1, 2, 3]
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) {
    if (!(part instanceof Uint8Array)) throw new TypeError('concatBytes expects Uint8Arrays');
    total += part.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * An unsigned 32-bit integer as 4 little-endian bytes.
 * @example u32le(1) // [1, 0, 0, 0]
 */
export function u32le(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`expected a uint32, got ${n}`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

/**
 * u32 LE length followed by the bytes (strings as UTF-8): unambiguous framing for signed messages.
 * @example lengthPrefixed('ab') // [2, 0, 0, 0, 97, 98]
 */
export function lengthPrefixed(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === 'string' ? utf8Encode(value) : value;
  if (!(bytes instanceof Uint8Array)) throw new TypeError('lengthPrefixed expects a Uint8Array or a string');
  return concatBytes(u32le(bytes.length), bytes);
}

/**
 * Constant-time equality of two byte arrays; false (not an exception) when lengths differ.
 * @example constantTimeEqual(a, b) // true when a and b hold the same bytes
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
