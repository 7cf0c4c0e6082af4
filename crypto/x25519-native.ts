/** X25519 through node:crypto (OpenSSL) for the update hot path: the same shared secrets as tweetnacl's scalarMult, several times faster. */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** DER prefixes wrapping raw 32-byte X25519 keys (RFC 8410): SubjectPublicKeyInfo and PKCS#8. */
const X25519_SPKI = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00);
const X25519_PKCS8 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20);

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + key.length);
  out.set(prefix, 0);
  out.set(key, prefix.length);
  return out;
}

/**
 * X25519 (RFC 7748) of a 32-byte secret scalar and a 32-byte public point, plus the secret's own public key:
 * what nacl.scalarMult(secret, peer) and nacl.scalarMult.base(secret) return. Null when the result would be
 * all zero (a low-order peer point), which OpenSSL refuses to derive. The caller zeroes `shared`.
 * @example const x = x25519(coordinator.boxSecretKey, ephemeralPublicKey); // { shared, publicKey } or null
 */
export function x25519(secret: Uint8Array, peerPublicKey: Uint8Array): { shared: Uint8Array; publicKey: Uint8Array } | null {
  const pkcs8 = der(X25519_PKCS8, secret);
  try {
    const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const publicKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI.length));
    return derive(privateKey, peerPublicKey, publicKey);
  } catch {
    return null;
  } finally {
    pkcs8.fill(0);
  }
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

/** A raw public key as a JWK: OpenSSL 3 imports it about 25x faster than through its DER decoder. */
const publicJwk = (publicKey: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: base64url(publicKey) }, format: 'jwk' });

function derive(
  privateKey: KeyObject,
  peerPublicKey: Uint8Array,
  publicKey: Uint8Array,
): { shared: Uint8Array; publicKey: Uint8Array } | null {
  if (peerPublicKey.length !== 32) return null;
  return { shared: new Uint8Array(diffieHellman({ privateKey, publicKey: publicJwk(peerPublicKey) })), publicKey };
}

/**
 * X25519 of a key pair whose public half the caller holds (an identity's box keys): the secret goes to OpenSSL as a
 * JWK, ten times cheaper than PKCS#8 (OpenSSL derives the key from `d` alone). Null as for x25519; the caller zeroes
 * `shared`. The `publicKey` returned is the one given: a wrong one only makes the envelope's key derivation differ.
 * @example const x = x25519KeyPair(coordinator.boxSecretKey, coordinator.boxPublicKey, ephemeralPublicKey);
 */
export function x25519KeyPair(
  secret: Uint8Array,
  publicKey: Uint8Array,
  peerPublicKey: Uint8Array,
): { shared: Uint8Array; publicKey: Uint8Array } | null {
  if (secret.length !== 32 || publicKey.length !== 32) return null;
  try {
    const privateKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: base64url(secret), x: base64url(publicKey) },
      format: 'jwk',
    });
    return derive(privateKey, peerPublicKey, publicKey);
  } catch {
    return null;
  }
}

/**
 * X25519 with a fresh key pair from OpenSSL's generator (its secret never leaves OpenSSL): the shared secret and the
 * fresh public key. Null as for x25519; the caller zeroes `shared`.
 * @example const x = x25519Ephemeral(coordinator.boxPublicKey); // { shared, publicKey } or null
 */
export function x25519Ephemeral(peerPublicKey: Uint8Array): { shared: Uint8Array; publicKey: Uint8Array } | null {
  try {
    const pair = generateKeyPairSync('x25519');
    const x = pair.publicKey.export({ format: 'jwk' }).x;
    if (typeof x !== 'string') return null;
    return derive(pair.privateKey, peerPublicKey, new Uint8Array(Buffer.from(x, 'base64url')));
  } catch {
    return null;
  }
}
