/** X25519 through node:crypto (OpenSSL) for the update hot path: the same shared secrets as tweetnacl's scalarMult, several times faster. */
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';

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
    const peer = createPublicKey({ key: der(X25519_SPKI, peerPublicKey), format: 'der', type: 'spki' });
    return { shared: new Uint8Array(diffieHellman({ privateKey, publicKey: peer })), publicKey };
  } catch {
    return null;
  } finally {
    pkcs8.fill(0);
  }
}
