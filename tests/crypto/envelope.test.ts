import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateIdentity } from '../../crypto/identity.js';
import { openEnvelope, peekEnvelope, sealEnvelope, type EnvelopeContext } from '../../crypto/envelope.js';
import { sha256Hex } from '../../crypto/hash.js';
import { flipped } from './helpers.js';
import { buildEnvelope } from './envelope-reference.js';

const sender = generateIdentity('st-marys');
const coordinator = generateIdentity('coordinator');
const context: EnvelopeContext = { federation: 'cardio', round: 3, institution: 'st-marys' };
const OVERHEAD = 97 + 'cardio'.length + 'st-marys'.length + 16 + 64;
const HEADER = 97 + 'cardio'.length + 'st-marys'.length;

const seal = (payload: Uint8Array, ctx: EnvelopeContext = context) =>
  sealEnvelope({ payload, context: ctx, recipientBoxPublicKey: coordinator.boxPublicKey, senderSignSecretKey: sender.signSecretKey });
const open = (envelope: Uint8Array, expected: EnvelopeContext = context, keys = { recipient: coordinator, sender }) =>
  openEnvelope(envelope, { recipientBoxSecretKey: keys.recipient.boxSecretKey, senderSignPublicKey: keys.sender.signPublicKey, expected });

describe('envelope', () => {
  it('round-trips an 8 MB payload and reports its digest and context', () => {
    const payload = new Uint8Array(randomBytes(8 * 1024 * 1024));

    const envelope = seal(payload);
    const opened = open(envelope);

    expect(envelope.length).toBe(payload.length + OVERHEAD);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.payload.length).toBe(payload.length);
    expect(Buffer.compare(opened.payload, payload)).toBe(0);
    expect(opened.payloadDigest).toBe(sha256Hex(payload));
    expect(opened.context).toEqual(context);
    expect(peekEnvelope(envelope)).toEqual({ context, payloadDigest: sha256Hex(payload), bytes: payload.length });
  });

  it('uses a fresh ephemeral key and nonce per envelope, and opens an empty payload', () => {
    const payload = Uint8Array.of(1, 2, 3);

    const a = seal(payload);
    const b = seal(payload);

    expect(a.subarray(5, 49)).not.toEqual(b.subarray(5, 49));
    expect(a.subarray(HEADER, HEADER + 3)).not.toEqual(payload);
    expect(open(seal(new Uint8Array(0)))).toMatchObject({ ok: true, payload: new Uint8Array(0) });
  });

  it('refuses a tampered tag or signature before decrypting, and a tampered ciphertext at the AEAD tag', () => {
    const envelope = seal(new Uint8Array(randomBytes(1000)));

    for (const index of [HEADER + 1000, HEADER + 1015, envelope.length - 1]) {
      const result = open(flipped(envelope, index));
      expect(result, `byte ${index}`).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    }
    // v2 signs the header and the tag, not the ciphertext: a changed ciphertext byte fails the AEAD tag instead.
    for (const index of [HEADER, HEADER + 999]) {
      const result = open(flipped(envelope, index));
      expect(result, `byte ${index}`).toMatchObject({
        ok: false,
        reason: 'DECRYPT_FAILED',
        message: expect.stringMatching(/corrupted ciphertext/),
      });
    }
  });

  it('refuses a tampered header: ephemeral key, nonce, context or digest', () => {
    const envelope = seal(new Uint8Array(randomBytes(1000)));
    const roundOffset = 53 + 'cardio'.length;

    for (const index of [5, 40, 55, roundOffset, HEADER - 1]) {
      const result = open(flipped(envelope, index));
      expect(result, `byte ${index}`).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    }
  });

  it('refuses a ciphertext the sender re-signed after tampering: the AEAD tag is checked', () => {
    const parts = {
      payload: Uint8Array.of(9, 8, 7, 6),
      context,
      recipientBoxPublicKey: coordinator.boxPublicKey,
      senderSignSecretKey: sender.signSecretKey,
    };

    const honest = buildEnvelope(parts);
    const tampered = buildEnvelope({ ...parts, tamperCiphertext: true });
    const lyingDigest = buildEnvelope({ ...parts, digestOf: Uint8Array.of(0) });

    expect(open(honest)).toMatchObject({ ok: true, payload: parts.payload });
    expect(open(tampered)).toMatchObject({ ok: false, reason: 'DECRYPT_FAILED' });
    expect(open(lyingDigest)).toMatchObject({ ok: false, reason: 'DECRYPT_FAILED', message: expect.stringMatching(/signed digest/) });
  });

  it('refuses the wrong recipient key (DECRYPT_FAILED) and the wrong sender key (BAD_SIGNATURE)', () => {
    const envelope = seal(Uint8Array.of(1, 2, 3));
    const stranger = generateIdentity('stranger');

    const wrongRecipient = open(envelope, context, { recipient: stranger, sender });
    const wrongSender = open(envelope, context, { recipient: coordinator, sender: stranger });

    expect(wrongRecipient).toMatchObject({ ok: false, reason: 'DECRYPT_FAILED' });
    expect(wrongSender).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
  });

  it('refuses a replay from another round, federation or institution, naming the field and both values', () => {
    const envelope = seal(Uint8Array.of(1, 2, 3));

    const otherRound = open(envelope, { ...context, round: 4 });
    const otherFederation = open(envelope, { ...context, federation: 'oncology' });
    const otherInstitution = open(envelope, { ...context, institution: 'st-johns' });

    expect(otherRound).toEqual({ ok: false, reason: 'WRONG_CONTEXT', message: 'envelope round is 3, expected 4' });
    expect(otherFederation).toMatchObject({
      ok: false,
      reason: 'WRONG_CONTEXT',
      message: 'envelope federation is "cardio", expected "oncology"',
    });
    expect(otherInstitution).toMatchObject({
      ok: false,
      reason: 'WRONG_CONTEXT',
      message: 'envelope institution is "st-marys", expected "st-johns"',
    });
  });

  it('gives MALFORMED for truncated, extended or garbage input without throwing', () => {
    const envelope = seal(Uint8Array.of(1, 2, 3));
    const wrongVersion = envelope.slice();
    wrongVersion[4] = 1; // a v1 envelope (signed over the ciphertext's hash) is refused by its version
    const longFederation = envelope.slice();
    longFederation[49] = 200;
    const inputs: unknown[] = [
      new Uint8Array(0),
      envelope.subarray(0, 10),
      envelope.subarray(0, HEADER),
      envelope.subarray(0, envelope.length - 1),
      Uint8Array.from([...envelope, 0]),
      new Uint8Array(randomBytes(500)),
      Uint8Array.from([0x43, 0x45, 0x4e, 0x56, 1, ...randomBytes(400)]),
      wrongVersion,
      longFederation,
      'CENV',
      null,
    ];

    for (const [i, input] of inputs.entries()) {
      const result = open(input as Uint8Array);
      expect(result, `input ${i}`).toMatchObject({ ok: false, reason: 'MALFORMED' });
      expect(peekEnvelope(input as Uint8Array), `input ${i}`).toBeNull();
    }
  });

  it('throws on misuse: wrong key sizes or an invalid context', () => {
    const payload = Uint8Array.of(1);

    expect(() =>
      sealEnvelope({ payload, context, recipientBoxPublicKey: new Uint8Array(31), senderSignSecretKey: sender.signSecretKey }),
    ).toThrow(/recipientBoxPublicKey must be 32 bytes, got 31/);
    expect(() =>
      sealEnvelope({ payload, context, recipientBoxPublicKey: coordinator.boxPublicKey, senderSignSecretKey: sender.signPublicKey }),
    ).toThrow(/senderSignSecretKey must be 64 bytes/);
    expect(() => seal(payload, { ...context, round: -1 })).toThrow(/context.round/);
    expect(() => seal(payload, { ...context, institution: '' })).toThrow(/context.institution/);
    expect(() =>
      sealEnvelope({ payload, context, recipientBoxPublicKey: new Uint8Array(32), senderSignSecretKey: sender.signSecretKey }),
    ).toThrow(/low-order/);
    expect(() =>
      openEnvelope(seal(payload), {
        recipientBoxSecretKey: coordinator.boxPublicKey.subarray(1),
        senderSignPublicKey: sender.signPublicKey,
        expected: context,
      }),
    ).toThrow(/recipientBoxSecretKey/);
  });
});
