import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../crypto/bytes.js';
import { verifyChallenge } from '../../crypto/challenge.js';
import { openEnvelope, sealEnvelope } from '../../crypto/envelope.js';
import { signModel, verifyModel } from '../../crypto/model-signature.js';

/** Known answers for the current formats (envelope v2, challenge and model signature v1). A failure here means the wire format changed: bump its version instead. */
const v = JSON.parse(readFileSync(new URL('./vectors/v2.json', import.meta.url), 'utf8'));

describe('known-answer vectors (envelope v2)', () => {
  it('seals exactly the recorded envelope from the recorded keys and randomness', () => {
    const queue = [fromHex(v.envelope.ephemeralSecret), fromHex(v.envelope.nonce)];

    const envelope = sealEnvelope({
      payload: fromHex(v.envelope.payload),
      context: v.envelope.context,
      recipientBoxPublicKey: fromHex(v.recipient.boxPublicKey),
      senderSignSecretKey: fromHex(v.sender.signSecretKey),
      random: (n) => {
        const next = queue.shift();
        if (!next || next.length !== n) throw new Error(`unexpected random request for ${n} bytes`);
        return next;
      },
    });

    expect(toHex(envelope)).toBe(v.envelope.envelope);
  });

  it('opens the recorded envelope', () => {
    const opened = openEnvelope(fromHex(v.envelope.envelope), {
      recipientBoxSecretKey: fromHex(v.recipient.boxSecretKey),
      senderSignPublicKey: fromHex(v.sender.signPublicKey),
      expected: v.envelope.context,
    });

    expect(opened.ok && toHex(opened.payload)).toBe(v.envelope.payload);
  });

  it('verifies the recorded challenge and model signatures, and signs the model identically', () => {
    const c = v.challenge;
    const { signature, ...model } = v.model;

    const challengeOk = verifyChallenge(
      {
        federation: c.federation,
        institution: c.institution,
        challenge: fromHex(c.challenge),
        coordinatorSignPublicKey: fromHex(c.coordinatorSignPublicKey),
      },
      fromHex(c.signature),
      fromHex(v.sender.signPublicKey),
    );

    expect(challengeOk).toBe(true);
    expect(verifyModel(model, fromHex(signature), fromHex(v.sender.signPublicKey))).toBe(true);
    expect(toHex(signModel(model, fromHex(v.sender.signSecretKey)))).toBe(signature);
  });
});
