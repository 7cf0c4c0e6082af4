import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  constantTimeEqual,
  fromBase64,
  fromHex,
  lengthPrefixed,
  toBase64,
  toHex,
  u32le,
  utf8Decode,
  utf8Encode,
} from '../../crypto/bytes.js';
import { sha256Hex } from '../../crypto/hash.js';

describe('bytes', () => {
  it('round-trips base64 and hex', () => {
    const bytes = Uint8Array.from([0, 1, 127, 128, 255]);

    const b64 = toBase64(bytes);
    const hex = toHex(bytes);

    expect(b64).toBe('AAF/gP8=');
    expect(hex).toBe('00017f80ff');
    expect(fromBase64(b64)).toEqual(bytes);
    expect(fromHex(hex)).toEqual(bytes);
  });

  it('refuses malformed base64 and hex instead of skipping junk', () => {
    for (const bad of ['AQI', 'AQ=I', 'A*==', 'AQJ=', ' AQID']) expect(() => fromBase64(bad), bad).toThrow(/invalid base64/);
    for (const bad of ['abc', 'zz', '0x00']) expect(() => fromHex(bad), bad).toThrow(/invalid hex/);
  });

  it('frames values with a u32 little-endian length', () => {
    expect(u32le(0x01020304)).toEqual(Uint8Array.from([4, 3, 2, 1]));
    expect(lengthPrefixed('ab')).toEqual(Uint8Array.from([2, 0, 0, 0, 97, 98]));
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3));
    expect(() => u32le(-1)).toThrow(RangeError);
    expect(() => u32le(2 ** 32)).toThrow(RangeError);
  });

  it('compares in constant time and says false for different lengths', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
  });

  it('decodes UTF-8 strictly and hashes with the standard SHA-256', () => {
    expect(utf8Decode(utf8Encode('café'))).toBe('café');
    expect(() => utf8Decode(Uint8Array.of(0xff))).toThrow();
    expect(sha256Hex(utf8Encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex([utf8Encode('a'), utf8Encode('bc')])).toBe(sha256Hex(utf8Encode('abc')));
  });
});
