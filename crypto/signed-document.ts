/** Detached Ed25519 signatures over a document's canonical JSON: consents, revocations, model cards, audit events. */
import { verifyEd25519 } from './ed25519-native.js';
import { signEd25519 } from './ed25519-sign.js';
import { canonicalJson } from '../protocol/model-spec.js';
import { fromBase64, toBase64, utf8Encode } from './bytes.js';
import { assertBytes } from './validate.js';

/**
 * The exact bytes signed for a document: the UTF-8 of its canonical JSON (keys sorted, no
 * whitespace). Documents carry a `format` field, which separates one kind of signature from another.
 * @example documentBytes({ format: 'cohort-consent/v1', ... })
 */
export function documentBytes(body: unknown): Uint8Array {
  return utf8Encode(canonicalJson(body));
}

/**
 * Signs a document; returns the 64-byte signature in base64.
 * @example const signature = signDocument(body, identity.signSecretKey)
 */
export function signDocument(body: unknown, signSecretKey: Uint8Array): string {
  assertBytes('signSecretKey', signSecretKey, 64);
  return toBase64(signEd25519(documentBytes(body), signSecretKey));
}

/**
 * True only for a valid signature by `signPublicKey` over the document; never throws.
 * @example verifyDocument(consent.body, consent.signature, institutionKey)
 */
export function verifyDocument(body: unknown, signature: string, signPublicKey: Uint8Array): boolean {
  try {
    const sig = fromBase64(signature);
    if (sig.length !== 64 || signPublicKey.length !== 32) return false;
    return verifyEd25519(documentBytes(body), sig, signPublicKey);
  } catch {
    return false;
  }
}
