import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateIdentity } from '../../crypto/identity.js';
import { openEnvelope, sealEnvelope, type EnvelopeContext } from '../../crypto/envelope.js';
import { x25519, x25519Ephemeral, x25519KeyPair } from '../../crypto/x25519-native.js';
import { sha256Hex } from '../../crypto/hash.js';
import { flipped, seededRandom } from './helpers.js';
import { buildEnvelope } from './envelope-reference.js';

const sender = generateIdentity('st-marys');
const coordinator = generateIdentity('coordinator');
const context: EnvelopeContext = { federation: 'cardio', round: 3, institution: 'st-marys' };
const keys = { recipientBoxPublicKey: coordinator.boxPublicKey, senderSignSecretKey: sender.signSecretKey };
const opening = (expected: EnvelopeContext = context) => ({
  recipientBoxSecretKey: coordinator.boxSecretKey,
  senderSignPublicKey: sender.signPublicKey,
  expected,
});

describe('envelope sealed and opened in place', () => {
  it('seals a payload a writer builds in the envelope into the same bytes as the payload given whole', () => {
    const payload = new Uint8Array(randomBytes(300_001));
    let region: Uint8Array | undefined;

    const given = sealEnvelope({ payload, context, ...keys, random: seededRandom('same') });
    const written = sealEnvelope({
      payload: (allocate) => {
        region = allocate(payload.length);
        region.set(payload);
        return region;
      },
      context,
      ...keys,
      random: seededRandom('same'),
    });

    expect(Buffer.compare(written, given)).toBe(0);
    expect(region?.buffer).toBe(written.buffer); // built where it was sealed: no copy
  });

  it('copies a writer result that is not the region it was given, and refuses a writer that returns no bytes', () => {
    const payload = Uint8Array.of(1, 2, 3, 4, 5);

    const envelope = sealEnvelope({ payload: () => payload, context, ...keys });
    const opened = openEnvelope(envelope, opening());

    expect(opened.ok && Buffer.compare(opened.payload, payload)).toBe(0);
    expect(() => sealEnvelope({ payload: () => 'x' as unknown as Uint8Array, context, ...keys })).toThrow(/payload/);
  });

  it('opens in place to the same payload, 4-aligned whatever the header length and the envelope offset', () => {
    const payload = new Uint8Array(randomBytes(200_003));
    for (const institution of ['a', 'ab', 'abc', 'abcd']) {
      const ctx = { ...context, institution };
      const sealed = sealEnvelope({ payload, context: ctx, ...keys });
      for (const offset of [0, 1, 2, 3]) {
        const holder = new Uint8Array(sealed.length + offset);
        holder.set(sealed, offset);

        const opened = openEnvelope(holder.subarray(offset), { ...opening(ctx), inPlace: true });

        expect(opened.ok).toBe(true);
        if (!opened.ok) return;
        expect(opened.payload.buffer).toBe(holder.buffer);
        expect(opened.payload.byteOffset % 4).toBe(0);
        expect(Buffer.compare(opened.payload, payload)).toBe(0);
        expect(opened.payloadDigest).toBe(sha256Hex(payload));
      }
    }
  });

  it('in place, refuses a tampered ciphertext at the AEAD tag and leaves no decrypted bytes behind', () => {
    const payload = new Uint8Array(200_000).fill(7);
    const sealed = sealEnvelope({ payload, context, ...keys });
    const tampered = flipped(sealed, sealed.length - 64 - 16 - 10);

    const opened = openEnvelope(tampered, { ...opening(), inPlace: true });

    expect(opened).toMatchObject({ ok: false, reason: 'DECRYPT_FAILED' });
    const header = 97 + 'cardio'.length + 'st-marys'.length;
    // The decrypted bytes went up to 3 bytes below the ciphertext; all of them are zero again.
    expect(tampered.subarray(header - 3, header + payload.length - 3).every((b) => b === 0)).toBe(true);
  });

  it('in place, refuses a plaintext that decrypts but differs from the signed digest in its last slice, and zeroes it', () => {
    // A dishonest site signs the digest of one payload and encrypts another (valid AEAD tag): the plaintext's SHA-256,
    // taken slice by slice while decrypting, covers every slice, down to a change in the last byte of the fourth.
    const payload = new Uint8Array(randomBytes(200_000));
    const signedFor = payload.slice();
    signedFor[signedFor.length - 1] = (signedFor[signedFor.length - 1] as number) ^ 1;
    const lying = buildEnvelope({ payload, context, ...keys, digestOf: signedFor });
    const honest = buildEnvelope({ payload, context, ...keys, digestOf: payload });

    const opened = openEnvelope(lying, { ...opening(), inPlace: true });

    expect(opened).toMatchObject({ ok: false, reason: 'DECRYPT_FAILED', message: expect.stringMatching(/signed digest/) });
    const header = 97 + 'cardio'.length + 'st-marys'.length;
    expect(lying.subarray(header - 3, header + payload.length - 3).every((b) => b === 0)).toBe(true);
    expect(openEnvelope(honest, { ...opening(), inPlace: true })).toMatchObject({ ok: true, payloadDigest: sha256Hex(payload) });
  });

  it('opens with the recipient public key given, and refuses when it is not the key the sender sealed to', () => {
    const payload = Uint8Array.of(9, 8, 7);
    const sealed = sealEnvelope({ payload, context, ...keys });

    const right = openEnvelope(sealed, { ...opening(), recipientBoxPublicKey: coordinator.boxPublicKey });
    const wrong = openEnvelope(sealed, { ...opening(), recipientBoxPublicKey: sender.boxPublicKey });

    expect(right.ok && Buffer.compare(right.payload, payload)).toBe(0);
    expect(wrong).toMatchObject({ ok: false, reason: 'DECRYPT_FAILED' });
  });
});

describe('x25519 through JWK keys and a generated pair', () => {
  it('gives the shared secret of the PKCS#8 path and of the peer, and null for a bad point length', () => {
    const a = generateIdentity('a');
    const b = generateIdentity('b');

    const viaPkcs8 = x25519(a.boxSecretKey, b.boxPublicKey);
    const viaPair = x25519KeyPair(a.boxSecretKey, a.boxPublicKey, b.boxPublicKey);
    const fresh = x25519Ephemeral(b.boxPublicKey);
    const peerSide = fresh && x25519(b.boxSecretKey, fresh.publicKey);

    expect(viaPair?.shared).toEqual(viaPkcs8?.shared);
    expect(viaPair?.publicKey).toEqual(a.boxPublicKey);
    expect(fresh?.shared).toEqual(peerSide?.shared);
    expect(fresh?.publicKey).not.toEqual(x25519Ephemeral(b.boxPublicKey)?.publicKey);
    expect(x25519KeyPair(a.boxSecretKey, a.boxPublicKey, new Uint8Array(31))).toBeNull();
    expect(x25519Ephemeral(new Uint8Array(33))).toBeNull();
  });

  it('returns null for a low-order peer point, as the PKCS#8 path does', () => {
    const a = generateIdentity('a');
    const lowOrder = new Uint8Array(32); // the point 0

    expect(x25519(a.boxSecretKey, lowOrder)).toBeNull();
    expect(x25519KeyPair(a.boxSecretKey, a.boxPublicKey, lowOrder)).toBeNull();
    expect(x25519Ephemeral(lowOrder)).toBeNull();
  });
});
