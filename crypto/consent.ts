/** Signing and checking an institution's consent and its revocation: only the institution's key can make either. */
import {
  ConsentBodySchema,
  RevocationBodySchema,
  contentHash,
  type ConsentBody,
  type RevocationBody,
  type SignedConsent,
  type SignedRevocation,
} from '../protocol/study.js';
import { signDocument, verifyDocument } from './signed-document.js';

/**
 * Signs a consent with the institution's Ed25519 key (over the body's canonical JSON).
 * @example const consent = signConsent(body, site.signSecretKey)
 */
export function signConsent(body: ConsentBody, signSecretKey: Uint8Array): SignedConsent {
  const parsed = ConsentBodySchema.parse(body);
  return { body: parsed, signature: signDocument(parsed, signSecretKey) };
}

/** True when the consent is well formed and signed by `signPublicKey`; never throws. */
export function verifyConsent(consent: SignedConsent, signPublicKey: Uint8Array): boolean {
  return ConsentBodySchema.safeParse(consent.body).success && verifyDocument(consent.body, consent.signature, signPublicKey);
}

/** The consent's identity: SHA-256 of the canonical JSON of body and signature. A revocation names it. */
export function consentHash(consent: SignedConsent): string {
  return contentHash(consent);
}

/**
 * Signs the withdrawal of a consent.
 * @example const revocation = signRevocation(consent, 'withdrawn by the data protection officer', site.signSecretKey)
 */
export function signRevocation(consent: SignedConsent, reason: string, signSecretKey: Uint8Array, now = new Date()): SignedRevocation {
  const body: RevocationBody = RevocationBodySchema.parse({
    format: 'cohort-revocation/v1',
    institution: consent.body.institution,
    federation: consent.body.federation,
    consentHash: consentHash(consent),
    reason,
    revokedAt: now.toISOString(),
  });
  return { body, signature: signDocument(body, signSecretKey) };
}

/** True when the revocation is signed by `signPublicKey` and names this consent; never throws. */
export function verifyRevocation(revocation: SignedRevocation, consent: SignedConsent, signPublicKey: Uint8Array): boolean {
  return (
    RevocationBodySchema.safeParse(revocation.body).success &&
    revocation.body.consentHash === consentHash(consent) &&
    revocation.body.institution === consent.body.institution &&
    verifyDocument(revocation.body, revocation.signature, signPublicKey)
  );
}
