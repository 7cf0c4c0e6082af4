import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/prng.js';
import { gfDiv, gfMul } from '../../../crypto/secagg/gf256.js';
import { combine, combineVerified, sharesConsistent, split, type Share } from '../../../crypto/secagg/shamir.js';
import { sha256 } from '../../../crypto/hash.js';
import { constantTimeEqual } from '../../../crypto/bytes.js';
import { seededRandom } from '../helpers.js';

const secret = sha256(Uint8Array.of(1, 2, 3));

/** A random subset of `k` distinct shares, reproducible from `seed`. */
function pick(shares: Share[], k: number, seed: number): Share[] {
  return createPrng(seed)
    .shuffle([...shares])
    .slice(0, k);
}

describe('GF(2^8)', () => {
  it('multiplies as in FIPS-197 section 4.2 ({57} x {83} = {c1}, {57} x {13} = {fe}) and divides back', () => {
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
    expect(gfMul(0x57, 0x13)).toBe(0xfe);
    for (let a = 1; a < 256; a++) expect(gfMul(gfDiv(0xc1, a), a)).toBe(0xc1);
  });
});

describe('Shamir over GF(2^8)', () => {
  it('recovers the secret from any t of n shares, at several (t, n)', () => {
    const cases: [number, number][] = [
      [2, 2],
      [2, 3],
      [3, 5],
      [6, 10],
      [11, 20],
      [128, 255],
    ];
    for (const [t, n] of cases) {
      const shares = split(secret, t, n, seededRandom(`shamir/${t}/${n}`));

      expect(shares.map((s) => s.index)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      for (let trial = 0; trial < 5; trial++) expect(combine(pick(shares, t, trial)), `t=${t} n=${n}`).toEqual(secret);
      expect(combine(shares)).toEqual(secret);
    }
  });

  it('gives a wrong value from t - 1 shares, and t - 1 shares are consistent with every possible secret byte', () => {
    const shares = split(secret, 4, 7, seededRandom('shamir/few'));
    const three = shares.slice(0, 3);

    const wrong = combine(three);
    // Completing the 3 real shares with each of the 256 possible values of a 4th share reaches every secret byte once:
    // the 3 shares alone leave the first secret byte completely undetermined.
    const firstBytes = new Set<number>();
    for (let v = 0; v < 256; v++) {
      const fourth = { index: 7, bytes: (shares[6] as Share).bytes.slice() };
      fourth.bytes[0] = v;
      firstBytes.add(combine([...three, fourth])[0] as number);
    }

    expect(wrong).not.toEqual(secret);
    expect(firstBytes.size).toBe(256);
  });

  it('spreads a fixed secret into uniformly distributed single shares', () => {
    const counts = new Array<number>(256).fill(0);
    const random = seededRandom('shamir/uniform');
    for (let i = 0; i < 64; i++) for (const b of (split(secret, 3, 5, random)[1] as Share).bytes) counts[b] = (counts[b] as number) + 1;
    const expected = (64 * 32) / 256;

    const chiSquare = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);

    expect(chiSquare).toBeLessThan(330.5); // chi-square, 255 degrees of freedom, p = 0.001
  });

  it('detects an altered share when more than t shares are combined, and a commitment catches it with exactly t', () => {
    const shares = split(secret, 3, 6, seededRandom('shamir/bad'));
    const altered = shares.map((s) => ({ index: s.index, bytes: s.bytes.slice() }));
    const victim = (altered[4] as Share).bytes;
    victim[9] = (victim[9] as number) ^ 0x40;
    const commitment = sha256(secret);
    const check = (s: Uint8Array) => constantTimeEqual(sha256(s), commitment);

    expect(sharesConsistent(shares, 3)).toBe(true);
    expect(sharesConsistent(altered, 3)).toBe(false);
    expect(combineVerified(altered, 3, check)).toMatchObject({ ok: false, reason: 'INCONSISTENT_SHARES' });
    expect(combineVerified([altered[0], altered[2], altered[4]] as Share[], 3, check)).toMatchObject({
      ok: false,
      reason: 'COMMITMENT_MISMATCH',
    });
    expect(combineVerified(shares.slice(0, 2), 3, check)).toMatchObject({ ok: false, reason: 'TOO_FEW_SHARES' });
    expect(combineVerified(shares, 3, check)).toEqual({ ok: true, secret });
  });

  it('refuses impossible parameters and malformed shares loudly', () => {
    expect(() => split(secret, 4, 3)).toThrow(RangeError);
    expect(() => split(secret, 2, 256)).toThrow(RangeError);
    expect(() => split(secret, 0, 3)).toThrow(RangeError);
    const shares = split(secret, 2, 3);
    expect(() => combine([shares[0] as Share, shares[0] as Share])).toThrow(/duplicate/);
    expect(() => combine([shares[0] as Share, { index: 2, bytes: new Uint8Array(5) }])).toThrow(TypeError);
    expect(() => combine([])).toThrow(TypeError);
  });
});
