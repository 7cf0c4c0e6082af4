/** Argument checks with short, loud messages, shared by the crypto modules (internal). */

/** Identifiers for federations and institutions: what protocol/messages.ts accepts on the wire. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws a TypeError unless `value` is a Uint8Array (of `length` bytes when given). */
export function assertBytes(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new TypeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** Throws a TypeError unless `value` is a valid identifier. */
export function assertId(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new TypeError(
      `${name} must be 1-128 characters of letters, digits, ".", "_" or "-" starting with a letter or digit, got ${JSON.stringify(value)}`,
    );
  }
}

/** Throws a RangeError unless `value` is an integer in [0, 2^32). */
export function assertU32(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${name} must be an integer in [0, 2^32), got ${String(value)}`);
  }
}

/** Throws a TypeError unless `value` is 64 lowercase hex characters (a SHA-256 digest). */
export function assertHex32(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw new TypeError(`${name} must be 64 lowercase hex characters (SHA-256), got ${JSON.stringify(value)}`);
  }
}
