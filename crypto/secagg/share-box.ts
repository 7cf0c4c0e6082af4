/**
 * Encryption of one holder's pair of shares: ChaCha20-Poly1305 (node:crypto) under keys.ts shareKey, with the index,
 * names and both share commitments as associated data. Plaintext: sShare || sSalt || bShare || bSalt (4 x 32 bytes).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concatBytes, lengthPrefixed, u32le } from '../bytes.js';

export const SHARE_BYTES = 32;
export const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const PLAINTEXT_BYTES = 4 * SHARE_BYTES;
export const CIPHERTEXT_BYTES = PLAINTEXT_BYTES + TAG_BYTES;

export interface SharePair {
  sShare: Uint8Array;
  sSalt: Uint8Array;
  bShare: Uint8Array;
  bSalt: Uint8Array;
}

interface BoxHeader {
  dealer: string;
  holder: string;
  x: number;
  sCommitment: Uint8Array;
  bCommitment: Uint8Array;
}

function aad(h: BoxHeader): Uint8Array {
  return concatBytes(lengthPrefixed(h.dealer), lengthPrefixed(h.holder), u32le(h.x), h.sCommitment, h.bCommitment);
}

/** Encrypts a share pair for its holder; returns ciphertext || tag. */
export function sealSharePair(pair: SharePair, header: BoxHeader, key: Uint8Array, nonce: Uint8Array): Uint8Array {
  const plaintext = concatBytes(pair.sShare, pair.sSalt, pair.bShare, pair.bSalt);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(header), { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  plaintext.fill(0);
  return concatBytes(body, cipher.getAuthTag());
}

/** Decrypts a share pair; null when the ciphertext does not authenticate (wrong key, tampered, or malformed). */
export function openSharePair(ciphertext: Uint8Array, header: BoxHeader, key: Uint8Array, nonce: Uint8Array): SharePair | null {
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== CIPHERTEXT_BYTES) return null;
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) return null;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(header), { plaintextLength: PLAINTEXT_BYTES });
  decipher.setAuthTag(ciphertext.subarray(PLAINTEXT_BYTES));
  const plaintext = new Uint8Array(decipher.update(ciphertext.subarray(0, PLAINTEXT_BYTES)));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    return null;
  }
  const part = (i: number) => plaintext.slice(i * SHARE_BYTES, (i + 1) * SHARE_BYTES);
  const pair = { sShare: part(0), sSalt: part(1), bShare: part(2), bSalt: part(3) };
  plaintext.fill(0);
  return pair;
}
