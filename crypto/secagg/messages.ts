/**
 * The messages of the five rounds, as plain objects over Uint8Array/Uint32Array: what a transport carries unchanged.
 * Participants are named by id; every message a participant sends is signed with its Ed25519 identity key over the
 * round's context digest (statements.ts), so the coordinator can route but not forge or alter them.
 */

/** Round 0, participant -> server: two fresh X25519 public keys, c (to encrypt shares) and s (to agree pairwise masks). */
export interface AdvertiseKeys {
  type: 'secagg/advertise-keys';
  from: string;
  cPublicKey: Uint8Array;
  sPublicKey: Uint8Array;
  signature: Uint8Array;
}

/** Round 0 -> 1, server -> participant: the advertised keys of the recipient's neighbours (U1 restricted to its neighbourhood). */
export interface KeysBroadcast {
  type: 'secagg/keys';
  to: string;
  keys: AdvertiseKeys[];
}

/** One holder's encrypted pair of shares (of the dealer's s secret key and of its self-mask seed b), with commitments. */
export interface EncryptedShare {
  to: string;
  /** The share index (1-based position of the holder among the dealer's holders). */
  x: number;
  nonce: Uint8Array;
  /** ChaCha20-Poly1305 of sShare || sSalt || bShare || bSalt (128 bytes) + 16-byte tag. */
  ciphertext: Uint8Array;
  /** SHA-256 commitments to each share (with a secret salt): checked by the holder now and by the server at unmasking. */
  sCommitment: Uint8Array;
  bCommitment: Uint8Array;
  /** Dealer's signature over this entry and its seed commitment (statements.ts shareStatement). */
  signature: Uint8Array;
}

/** Round 1, participant -> server: its shares for every holder, and a commitment to its self-mask seed b. */
export interface ShareKeys {
  type: 'secagg/share-keys';
  from: string;
  seedCommitment: Uint8Array;
  shares: EncryptedShare[];
}

/** Round 1 -> 2, server -> participant: the shares addressed to it, one per dealer in U2 (the recipient's own included). */
export interface SharesDelivery {
  type: 'secagg/shares';
  to: string;
  shares: { from: string; seedCommitment: Uint8Array; share: EncryptedShare }[];
}

export type ComplaintReason = 'UNDECRYPTABLE_SHARE' | 'SHARE_COMMITMENT_MISMATCH';

/** A holder's report that a dealer's share for it was unusable (an accusation: the server cannot check it). */
export interface Complaint {
  against: string;
  reason: ComplaintReason;
}

/** Round 2, participant -> server: y = x + PRG(b) + sum_{v>u} PRG(s_uv) - sum_{v<u} PRG(s_uv) mod 2^32, and complaints. */
export interface MaskedInput {
  type: 'secagg/masked-input';
  from: string;
  masked: Uint32Array;
  complaints: Complaint[];
  signature: Uint8Array;
}

/** Round 2 -> 3, server -> participant: the survivor set U3 (who sent a masked input), for the participant to sign. */
export interface ConsistencyRequest {
  type: 'secagg/consistency-request';
  to: string;
  survivors: string[];
}

/** Round 3, participant -> server: its signature over the survivor set it was told (statements.ts consistencyStatement). */
export interface ConsistencySignature {
  type: 'secagg/consistency';
  from: string;
  signature: Uint8Array;
}

/**
 * Round 3 -> 4, server -> participant: who survived (reveal b shares) and who dropped after sharing (reveal s shares),
 * with at least t survivors' signatures over exactly that survivor set (the paper's consistency check).
 */
export interface UnmaskRequest {
  type: 'secagg/unmask-request';
  to: string;
  survivors: string[];
  dropped: string[];
  signatures: { from: string; signature: Uint8Array }[];
}

/** A share opened for the server, with the salt that lets it check the dealer's signed commitment. */
export interface RevealedShare {
  of: string;
  x: number;
  share: Uint8Array;
  salt: Uint8Array;
}

/** Round 4, participant -> server: b shares of survivors, s-key shares of dropped participants; never both for one. */
export interface UnmaskResponse {
  type: 'secagg/unmask';
  from: string;
  seedShares: RevealedShare[];
  keyShares: RevealedShare[];
  signature: Uint8Array;
}

export type SecAggMessage =
  | AdvertiseKeys
  | KeysBroadcast
  | ShareKeys
  | SharesDelivery
  | MaskedInput
  | ConsistencyRequest
  | ConsistencySignature
  | UnmaskRequest
  | UnmaskResponse;
