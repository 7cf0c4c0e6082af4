/** SHA-256 over one byte array or a sequence of them, via node:crypto (native, ~1.7 GB/s here). */
import { createHash } from 'node:crypto';
import { toHex } from './bytes.js';

/**
 * SHA-256 of `data`; an array of parts is hashed as their concatenation, without copying them.
 * @example sha256([utf8Encode('a'), utf8Encode('b')]) // same as sha256(utf8Encode('ab'))
 */
export function sha256(data: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  const parts = data instanceof Uint8Array ? [data] : data;
  if (!Array.isArray(parts)) throw new TypeError('sha256 expects a Uint8Array or an array of them');
  for (const part of parts) {
    if (!(part instanceof Uint8Array)) throw new TypeError('sha256 expects a Uint8Array or an array of them');
    hash.update(part);
  }
  return new Uint8Array(hash.digest());
}

/**
 * SHA-256 as 64 lowercase hex characters.
 * @example sha256Hex(new Uint8Array()) // 'e3b0c442...b855'
 */
export function sha256Hex(data: Uint8Array | readonly Uint8Array[]): string {
  return toHex(sha256(data));
}
