/** Agent authentication: the institution signs a fresh server challenge bound to federation, institution and coordinator key. */
import { verifyEd25519 } from './ed25519-native.js';
import { signEd25519 } from './ed25519-sign.js';
import { concatBytes, lengthPrefixed, utf8Encode } from './bytes.js';
import { defaultRandom, takeRandom, type RandomSource } from './random.js';
import { assertBytes, assertId } from './validate.js';

export interface ChallengeParams {
  federation: string;
  institution: string;
  /** 32 fresh random bytes from the coordinator. */
  challenge: Uint8Array;
  coordinatorSignPublicKey: Uint8Array;
}

const DOMAIN = utf8Encode('cohort/auth/v1');

/**
 * 32 fresh random bytes for one authentication attempt.
 * @example const challenge = newChallenge();
 */
export function newChallenge(random: RandomSource = defaultRandom): Uint8Array {
  return takeRandom(random, 32);
}

/**
 * The signed bytes: "cohort/auth/v1" || lp(federation) || lp(institution) || challenge || coordinatorSignPublicKey.
 * @example const message = challengeMessage({ federation, institution, challenge, coordinatorSignPublicKey });
 */
export function challengeMessage(p: ChallengeParams): Uint8Array {
  assertId('federation', p.federation);
  assertId('institution', p.institution);
  assertBytes('challenge', p.challenge, 32);
  assertBytes('coordinatorSignPublicKey', p.coordinatorSignPublicKey, 32);
  return concatBytes(DOMAIN, lengthPrefixed(p.federation), lengthPrefixed(p.institution), p.challenge, p.coordinatorSignPublicKey);
}

/**
 * The institution's 64-byte Ed25519 signature over challengeMessage(p).
 * @example const signature = signChallenge(params, me.signSecretKey);
 */
export function signChallenge(p: ChallengeParams, signSecretKey: Uint8Array): Uint8Array {
  assertBytes('signSecretKey', signSecretKey, 64);
  return signEd25519(challengeMessage(p), signSecretKey);
}

/**
 * True only for a valid signature by `signPublicKey` over these exact params; false on any malformed input (never throws).
 * @example if (!verifyChallenge(params, signature, institution.signPublicKey)) reject('BAD_SIGNATURE');
 */
export function verifyChallenge(p: ChallengeParams, signature: Uint8Array, signPublicKey: Uint8Array): boolean {
  try {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    if (!(signPublicKey instanceof Uint8Array) || signPublicKey.length !== 32) return false;
    return verifyEd25519(challengeMessage(p), signature, signPublicKey);
  } catch {
    return false;
  }
}

export interface ServerProofParams {
  federation: string;
  institution: string;
  /** The 32 random bytes the agent sent at connect. */
  clientNonce: Uint8Array;
  /** The challenge the coordinator sends back. */
  challenge: Uint8Array;
}

const SERVER_DOMAIN = utf8Encode('cohort/server-auth/v1');

/**
 * The coordinator's proof of its key at connect: "cohort/server-auth/v1" || lp(federation) || lp(institution) || clientNonce || challenge.
 * A server that only knows the coordinator's public key cannot produce it for a fresh nonce.
 * @example const message = serverProofMessage({ federation, institution, clientNonce, challenge })
 */
export function serverProofMessage(p: ServerProofParams): Uint8Array {
  assertId('federation', p.federation);
  assertId('institution', p.institution);
  assertBytes('clientNonce', p.clientNonce, 32);
  assertBytes('challenge', p.challenge, 32);
  return concatBytes(SERVER_DOMAIN, lengthPrefixed(p.federation), lengthPrefixed(p.institution), p.clientNonce, p.challenge);
}

/** The coordinator's signature over serverProofMessage(p). */
export function signServerProof(p: ServerProofParams, signSecretKey: Uint8Array): Uint8Array {
  assertBytes('signSecretKey', signSecretKey, 64);
  return signEd25519(serverProofMessage(p), signSecretKey);
}

/** True only for the pinned coordinator's signature over these exact params; never throws. */
export function verifyServerProof(p: ServerProofParams, signature: Uint8Array, coordinatorSignPublicKey: Uint8Array): boolean {
  try {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    if (!(coordinatorSignPublicKey instanceof Uint8Array) || coordinatorSignPublicKey.length !== 32) return false;
    return verifyEd25519(serverProofMessage(p), signature, coordinatorSignPublicKey);
  } catch {
    return false;
  }
}
