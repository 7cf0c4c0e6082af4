/** The coordinator's signature over a published global model: federation, version, spec hash and weights digest. */
import { verifyEd25519 } from './ed25519-native.js';
import { signEd25519 } from './ed25519-sign.js';
import { concatBytes, fromHex, lengthPrefixed, u32le, utf8Encode } from './bytes.js';
import { assertBytes, assertHex32, assertId, assertU32 } from './validate.js';

export interface ModelSignatureParams {
  federation: string;
  version: number;
  /** Lowercase hex SHA-256 of the canonical spec JSON. */
  specHash: string;
  /** Lowercase hex SHA-256 of the encoded weights. */
  weightsDigest: string;
}

const DOMAIN = utf8Encode('cohort/model/v1');

/**
 * The signed bytes: "cohort/model/v1" || lp(federation) || u32le(version) || specHash (32 bytes) || weightsDigest (32 bytes).
 * @example const message = modelSigningMessage({ federation: 'fed', version: 3, specHash, weightsDigest });
 */
export function modelSigningMessage(p: ModelSignatureParams): Uint8Array {
  assertId('federation', p.federation);
  assertU32('version', p.version);
  assertHex32('specHash', p.specHash);
  assertHex32('weightsDigest', p.weightsDigest);
  return concatBytes(DOMAIN, lengthPrefixed(p.federation), u32le(p.version), fromHex(p.specHash), fromHex(p.weightsDigest));
}

/**
 * The coordinator's 64-byte Ed25519 signature over modelSigningMessage(p).
 * @example const signature = signModel(params, coordinator.signSecretKey);
 */
export function signModel(p: ModelSignatureParams, signSecretKey: Uint8Array): Uint8Array {
  assertBytes('signSecretKey', signSecretKey, 64);
  return signEd25519(modelSigningMessage(p), signSecretKey);
}

/**
 * True only for a valid coordinator signature over these exact params; false on any malformed input (never throws).
 * @example if (!verifyModel(params, signature, coordinator.signPublicKey)) refuse('BAD_SIGNATURE');
 */
export function verifyModel(p: ModelSignatureParams, signature: Uint8Array, signPublicKey: Uint8Array): boolean {
  try {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    if (!(signPublicKey instanceof Uint8Array) || signPublicKey.length !== 32) return false;
    return verifyEd25519(modelSigningMessage(p), signature, signPublicKey);
  } catch {
    return false;
  }
}
