/** The one injectable source of randomness for keys, nonces and challenges. */
import { randomBytes } from 'node:crypto';

/** Returns `n` fresh uniformly random bytes, owned (and zeroed after use) by the caller. Inject a deterministic one only in tests. */
export type RandomSource = (n: number) => Uint8Array;

/**
 * The operating system CSPRNG (node:crypto randomBytes).
 * @example const nonce = defaultRandom(12);
 */
export const defaultRandom: RandomSource = (n) => {
  const buffer = randomBytes(n);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
};

/**
 * Calls `random(n)` and checks what came back, so a broken source fails loudly.
 * @example const seed = takeRandom(random, 32);
 */
export function takeRandom(random: RandomSource, n: number): Uint8Array {
  if (typeof random !== 'function') throw new TypeError('random must be a function (n) => Uint8Array');
  const bytes = random(n);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('random source must return a Uint8Array');
  if (bytes.length !== n) throw new TypeError(`random source returned ${bytes.length} bytes, expected ${n}`);
  return bytes;
}
