/** Ed25519 signing through node:crypto (OpenSSL) with tweetnacl-format keys: the same 64 bytes as nacl.sign.detached, ~50x faster. */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

/**
 * Signs `message` with a tweetnacl 64-byte secret key (32-byte seed || 32-byte public key). Ed25519 is
 * deterministic (RFC 8032), so the signature equals tweetnacl's; the key goes to OpenSSL as a JWK, which
 * skips OpenSSL 3's slow DER decoders.
 * @example const signature = signEd25519(message, identity.signSecretKey); signature.length === 64
 */
export function signEd25519(message: Uint8Array, signSecretKey: Uint8Array): Uint8Array {
  return ed25519Signer(signSecretKey)(message);
}

/**
 * A signing function bound to one key, which is handed to OpenSSL once: for a signer on a hot path (the
 * coordinator's audit log signs every event). The key stays inside the returned closure.
 * @example const signAudit = ed25519Signer(identity.signSecretKey); signAudit(hashBytes)
 */
export function ed25519Signer(signSecretKey: Uint8Array): (message: Uint8Array) => Uint8Array {
  if (!(signSecretKey instanceof Uint8Array) || signSecretKey.length !== 64)
    throw new TypeError('signSecretKey must be 64 bytes (tweetnacl format)');
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: base64url(signSecretKey.subarray(0, 32)), x: base64url(signSecretKey.subarray(32)) },
    format: 'jwk',
  });
  return (message) => new Uint8Array(sign(null, message, key));
}

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The Ed25519 public key of a 32-byte seed (what nacl.sign.keyPair.fromSeed returns as publicKey), from OpenSSL.
 * @example const publicKey = ed25519PublicKeyFromSeed(seed); const secretKey = concatBytes(seed, publicKey);
 */
export function ed25519PublicKeyFromSeed(seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('seed must be 32 bytes');
  const der = Buffer.concat([PKCS8_ED25519, seed]);
  try {
    const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
    return new Uint8Array(spki.subarray(spki.length - 32));
  } finally {
    der.fill(0);
  }
}
