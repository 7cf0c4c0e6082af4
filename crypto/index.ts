/** The public surface of crypto/: pure functions over Uint8Array, plus identity files (key-file.ts). */
export {
  toBase64,
  fromBase64,
  toHex,
  fromHex,
  utf8Encode,
  utf8Decode,
  concatBytes,
  u32le,
  lengthPrefixed,
  constantTimeEqual,
} from './bytes.js';
export { defaultRandom, type RandomSource } from './random.js';
export { sha256, sha256Hex } from './hash.js';
export { ed25519Signer, signEd25519 } from './ed25519-sign.js';
export {
  generateIdentity,
  publicIdentityOf,
  fingerprint,
  serializeIdentity,
  parseIdentity,
  serializePublicIdentity,
  parsePublicIdentity,
  IDENTITY_FORMAT,
  PUBLIC_IDENTITY_FORMAT,
  type Identity,
  type PublicIdentity,
} from './identity.js';
export { writeIdentityFile, writePublicIdentityFile, readIdentityFile, readPublicIdentityFile } from './key-file.js';
export {
  newChallenge,
  challengeMessage,
  signChallenge,
  verifyChallenge,
  serverProofMessage,
  signServerProof,
  verifyServerProof,
  type ChallengeParams,
  type ServerProofParams,
} from './challenge.js';
export { sealEnvelope, openEnvelope, peekEnvelope, type EnvelopeContext, type OpenEnvelopeResult, type PayloadWriter } from './envelope.js';
export { modelSigningMessage, signModel, verifyModel, type ModelSignatureParams } from './model-signature.js';
export { documentBytes, signDocument, verifyDocument } from './signed-document.js';
export { consentHash, signConsent, signRevocation, verifyConsent, verifyRevocation } from './consent.js';
export { GENESIS_HASH, appendEntry, entryHash, verifyChain, type AuditBody, type ChainEntry, type ChainVerdict } from './audit-chain.js';
export { createPrng, type Prng } from './prng.js';
export * as secagg from './secagg/index.js';
export * as dp from './dp/index.js';
