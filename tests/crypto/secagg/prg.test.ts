import { describe, expect, it } from 'vitest';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { concatBytes, lengthPrefixed, u32le, utf8Encode } from '../../../crypto/bytes.js';
import { sha256 } from '../../../crypto/hash.js';
import { applyMask, expandMask, type PrgContext } from '../../../crypto/secagg/prg.js';

const seed = sha256(utf8Encode('prg seed'));
const ctx: PrgContext = { kind: 'self-mask', federation: 'cardio', round: 3 };

describe('mask PRG', () => {
  it('is AES-256-CTR over zeros keyed by HKDF-SHA256(seed, info = tag || kind || federation || round), read little-endian', () => {
    const info = concatBytes(utf8Encode('cohort/secagg/prg/v1'), lengthPrefixed('self-mask'), lengthPrefixed('cardio'), u32le(3));
    const key = new Uint8Array(hkdfSync('sha256', seed, new Uint8Array(0), info, 32));
    const stream = createCipheriv('aes-256-ctr', key, new Uint8Array(16)).update(new Uint8Array(16));

    const words = expandMask(seed, 4, ctx);

    expect(Array.from(words)).toEqual([0, 4, 8, 12].map((o) => stream.readUInt32LE(o)));
  });

  it('is deterministic and separates domains: kind, round and federation each change the stream', () => {
    const base = expandMask(seed, 64, ctx);

    expect(expandMask(seed, 64, ctx)).toEqual(base);
    for (const other of [
      { ...ctx, kind: 'pair-mask' as const },
      { ...ctx, round: 4 },
      { ...ctx, federation: 'onco' },
    ]) {
      expect(expandMask(seed, 64, other)).not.toEqual(base);
    }
    expect(expandMask(sha256(seed), 64, ctx)).not.toEqual(base);
  });

  it('streams across chunk boundaries: applyMask(+1) adds exactly expandMask, and (-1) undoes it', () => {
    const length = 2 * 16384 + 7;
    const mask = expandMask(seed, length, ctx);
    const target = Uint32Array.from({ length }, (_, i) => i * 2654435761);
    const original = target.slice();

    applyMask(target, seed, 1, ctx);
    const added = target.slice();
    applyMask(target, seed, -1, ctx);

    expect(added).toEqual(original.map((v, i) => v + (mask[i] as number)));
    expect(added).not.toEqual(original);
    expect(target).toEqual(original);
    expect(expandMask(seed, length, ctx).subarray(0, 100)).toEqual(expandMask(seed, 100, ctx));
  });

  it('produces words whose top bytes are uniform (chi-square, 255 degrees of freedom)', () => {
    const words = expandMask(seed, 1 << 16, ctx);
    const counts = new Array<number>(256).fill(0);
    for (const w of words) counts[w >>> 24] = (counts[w >>> 24] as number) + 1;

    const chiSquare = counts.reduce((acc, c) => acc + (c - 256) ** 2 / 256, 0);

    expect(chiSquare).toBeLessThan(330.5); // p = 0.001
  });

  it('refuses a seed that is not 32 bytes, an unknown kind and a bad sign', () => {
    expect(() => expandMask(new Uint8Array(16), 4, ctx)).toThrow(TypeError);
    expect(() => expandMask(seed, 4, { ...ctx, kind: 'other' as never })).toThrow(TypeError);
    expect(() => applyMask(new Uint32Array(4), seed, 2 as never, ctx)).toThrow(RangeError);
  });
});
