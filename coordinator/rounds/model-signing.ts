/** Turns aggregated weights into a signed, stored model version. */
import { canonicalJson, encodeTensors, type ModelSpec, type NamedTensor, type SignedModel } from '../../protocol/index.js';
import { sha256Hex, signModel, toBase64, toHex, type Identity } from '../../crypto/index.js';

/** SHA-256 (hex) of a spec's canonical JSON: binds a model's signature to its architecture and preprocessing. */
export function specHash(spec: ModelSpec): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson(spec)));
}

export interface EncodedModel {
  bytes: Uint8Array;
  digest: string;
  specHash: string;
  signature: string;
}

/**
 * Encodes weights with the tensor codec and signs (federation, version, spec hash, digest).
 * @example const m = encodeAndSign(identity, 'fed', 3, spec, tensors, { round: 3 })
 */
export function encodeAndSign(
  identity: Identity,
  federation: string,
  version: number,
  spec: ModelSpec,
  tensors: NamedTensor[],
  meta: Record<string, unknown>,
): EncodedModel {
  const bytes = encodeTensors(tensors, { federation, version, ...meta });
  // The trailer encodeTensors just wrote is the frame's SHA-256: no second pass over the model to read it back.
  const digest = toHex(bytes.subarray(bytes.length - 32));
  const hash = specHash(spec);
  const signature = toBase64(signModel({ federation, version, specHash: hash, weightsDigest: digest }, identity.signSecretKey));
  return { bytes, digest, specHash: hash, signature };
}

/** The wire form of a stored model. */
export function toSignedModel(federation: string, version: number, spec: ModelSpec, m: Omit<EncodedModel, 'specHash'>): SignedModel {
  return { federation, version, spec, weights: m.bytes, digest: m.digest, signature: m.signature };
}
