import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, lengthPrefixed, u32le, utf8Encode } from '../../crypto/bytes.js';
import { sha256Hex } from '../../crypto/hash.js';
import { generateIdentity } from '../../crypto/identity.js';
import { modelSigningMessage, signModel, verifyModel, type ModelSignatureParams } from '../../crypto/model-signature.js';
import { flipped } from './helpers.js';

const coordinator = generateIdentity('coordinator');
const base: ModelSignatureParams = {
  federation: 'cardio',
  version: 4,
  specHash: sha256Hex(utf8Encode('{"layers":[]}')),
  weightsDigest: sha256Hex(new Uint8Array(1000)),
};

describe('model signature', () => {
  it('verifies a model signed by the coordinator', () => {
    const signature = signModel(base, coordinator.signSecretKey);

    expect(verifyModel(base, signature, coordinator.signPublicKey)).toBe(true);
  });

  it('refuses a change to any signed field', () => {
    const signature = signModel(base, coordinator.signSecretKey);
    const otherHex = sha256Hex(utf8Encode('other'));

    const tampered: ModelSignatureParams[] = [
      { ...base, federation: 'oncology' },
      { ...base, version: 5 },
      { ...base, specHash: otherHex },
      { ...base, weightsDigest: otherHex },
    ];

    for (const p of tampered) expect(verifyModel(p, signature, coordinator.signPublicKey), JSON.stringify(p)).toBe(false);
  });

  it('refuses another signer and a tampered signature', () => {
    const signature = signModel(base, coordinator.signSecretKey);

    expect(verifyModel(base, signature, generateIdentity('impostor').signPublicKey)).toBe(false);
    expect(verifyModel(base, flipped(signature, 63), coordinator.signPublicKey)).toBe(false);
  });

  it('returns false on malformed params without throwing', () => {
    const signature = signModel(base, coordinator.signSecretKey);

    expect(verifyModel({ ...base, specHash: 'xyz' }, signature, coordinator.signPublicKey)).toBe(false);
    expect(verifyModel({ ...base, weightsDigest: base.weightsDigest.toUpperCase() }, signature, coordinator.signPublicKey)).toBe(false);
    expect(verifyModel({ ...base, version: -1 }, signature, coordinator.signPublicKey)).toBe(false);
    expect(verifyModel(base, signature.subarray(1), coordinator.signPublicKey)).toBe(false);
  });

  it('signs exactly the documented bytes', () => {
    const message = modelSigningMessage(base);

    expect(message).toEqual(
      concatBytes(utf8Encode('cohort/model/v1'), lengthPrefixed('cardio'), u32le(4), fromHex(base.specHash), fromHex(base.weightsDigest)),
    );
    expect(() => signModel({ ...base, version: 1.5 }, coordinator.signSecretKey)).toThrow(/version must be an integer/);
  });
});
