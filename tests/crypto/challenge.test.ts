import { describe, expect, it } from 'vitest';
import { challengeMessage, newChallenge, signChallenge, verifyChallenge, type ChallengeParams } from '../../crypto/challenge.js';
import { concatBytes, lengthPrefixed, utf8Encode } from '../../crypto/bytes.js';
import { generateIdentity } from '../../crypto/identity.js';
import { flipped } from './helpers.js';

const institution = generateIdentity('st-marys');
const coordinator = generateIdentity('coordinator');
const params = (overrides: Partial<ChallengeParams> = {}): ChallengeParams => ({
  federation: 'cardio',
  institution: 'st-marys',
  challenge: new Uint8Array(32).fill(7),
  coordinatorSignPublicKey: coordinator.signPublicKey,
  ...overrides,
});

describe('challenge', () => {
  it('signs a challenge that the coordinator verifies with the institution key', () => {
    const p = params({ challenge: newChallenge() });

    const signature = signChallenge(p, institution.signSecretKey);

    expect(signature).toHaveLength(64);
    expect(verifyChallenge(p, signature, institution.signPublicKey)).toBe(true);
  });

  it('refuses a wrong key, another challenge, federation, institution or coordinator', () => {
    const p = params();
    const signature = signChallenge(p, institution.signSecretKey);

    expect(verifyChallenge(p, signature, generateIdentity('impostor').signPublicKey)).toBe(false);
    expect(verifyChallenge(params({ challenge: flipped(p.challenge, 0) }), signature, institution.signPublicKey)).toBe(false);
    expect(verifyChallenge(params({ federation: 'oncology' }), signature, institution.signPublicKey)).toBe(false);
    expect(verifyChallenge(params({ institution: 'st-marys2' }), signature, institution.signPublicKey)).toBe(false);
    expect(verifyChallenge(params({ coordinatorSignPublicKey: institution.signPublicKey }), signature, institution.signPublicKey)).toBe(
      false,
    );
    expect(verifyChallenge(p, flipped(signature, 10), institution.signPublicKey)).toBe(false);
  });

  it('returns false on malformed input without throwing', () => {
    const p = params();
    const signature = signChallenge(p, institution.signSecretKey);

    expect(verifyChallenge(p, signature.subarray(0, 63), institution.signPublicKey)).toBe(false);
    expect(verifyChallenge(p, signature, institution.signPublicKey.subarray(0, 31))).toBe(false);
    expect(verifyChallenge(params({ challenge: new Uint8Array(31) }), signature, institution.signPublicKey)).toBe(false);
    expect(verifyChallenge(params({ federation: '' }), signature, institution.signPublicKey)).toBe(false);
    expect(verifyChallenge(p, 'nope' as unknown as Uint8Array, institution.signPublicKey)).toBe(false);
  });

  it('signs exactly the documented bytes and keeps adjacent fields unambiguous', () => {
    const p = params();

    const message = challengeMessage(p);
    const shifted = challengeMessage(params({ federation: 'cardiost-marys', institution: 'x' }));

    expect(message).toEqual(
      concatBytes(
        utf8Encode('cohort/auth/v1'),
        lengthPrefixed('cardio'),
        lengthPrefixed('st-marys'),
        p.challenge,
        p.coordinatorSignPublicKey,
      ),
    );
    expect(shifted).not.toEqual(message);
    expect(newChallenge()).not.toEqual(newChallenge());
    expect(() => signChallenge(p, institution.signPublicKey)).toThrow(/signSecretKey must be 64 bytes, got 32/);
  });
});
