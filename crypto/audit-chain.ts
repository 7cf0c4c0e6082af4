/** Hash-chained, signed audit entries, and the verifier that finds the first broken link. */
import { verifyEd25519 } from './ed25519-native.js';
import { signEd25519 } from './ed25519-sign.js';
import { canonicalJson } from '../protocol/model-spec.js';
import { fromBase64, fromHex, toBase64, toHex, utf8Encode } from './bytes.js';
import { sha256 } from './hash.js';
import { assertBytes } from './validate.js';

/** The chain's first `prevHash`: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** An audit event's content; `seq` counts from 1 without gaps. */
export interface AuditBody {
  seq: number;
  ts: number;
  federation: string | null;
  kind: string;
  actor: string;
  subject: string | null;
  data: Record<string, unknown>;
}

/** One link: the canonical JSON of the body exactly as hashed, the previous hash, this hash, and the signature. */
export interface ChainEntry {
  seq: number;
  prevHash: string;
  body: string;
  hash: string;
  signature: string;
}

/**
 * hash = SHA-256(prevHash as 64 lowercase hex characters || body as UTF-8); the signature is
 * Ed25519 over the 32 raw bytes of that hash. Plain enough to check with sha256sum and openssl.
 * @example const h = entryHash(GENESIS_HASH, '{"actor":"coordinator",...}')
 */
export function entryHash(prevHash: string, body: string): string {
  return toHex(sha256([utf8Encode(prevHash), utf8Encode(body)]));
}

/**
 * Builds the next signed link of a chain.
 * @example const entry = appendEntry(last?.hash ?? GENESIS_HASH, body, identity.signSecretKey)
 */
export function appendEntry(prevHash: string, body: AuditBody, signSecretKey: Uint8Array): ChainEntry {
  assertBytes('signSecretKey', signSecretKey, 64);
  const text = canonicalJson(body);
  const hash = entryHash(prevHash, text);
  return { seq: body.seq, prevHash, body: text, hash, signature: toBase64(signEd25519(fromHex(hash), signSecretKey)) };
}

export type ChainBreak = 'BODY_UNREADABLE' | 'SEQUENCE' | 'PREVIOUS_HASH' | 'HASH' | 'SIGNATURE';

export type ChainVerdict =
  | { ok: true; entries: number; lastHash: string }
  | { ok: false; entries: number; index: number; seq: number | null; problem: ChainBreak; message: string };

/**
 * Checks every link in order: readable body, gapless sequence, previous hash, hash, signature.
 * Stops at the first broken link and names it, so an edited, removed, inserted or reordered
 * event is found where it happened.
 * @example const v = verifyChain(entries, coordinatorSignPublicKey); if (!v.ok) console.log(v.message)
 */
export function verifyChain(entries: Iterable<ChainEntry>, signPublicKey: Uint8Array): ChainVerdict {
  let prev = GENESIS_HASH;
  let index = 0;
  for (const e of entries) {
    const fail = (problem: ChainBreak, message: string): ChainVerdict => ({
      ok: false,
      entries: index,
      index,
      seq: e.seq ?? null,
      problem,
      message: `event #${e.seq} (entry ${index + 1}): ${message}`,
    });
    let body: AuditBody;
    try {
      body = JSON.parse(e.body) as AuditBody;
    } catch {
      return fail('BODY_UNREADABLE', 'the event body is not valid JSON');
    }
    if (body.seq !== e.seq || e.seq !== index + 1) {
      return fail(
        'SEQUENCE',
        `expected event #${index + 1} here, found #${e.seq} (body says #${String(body.seq)}): an event was removed, inserted or reordered`,
      );
    }
    if (canonicalJson(body) !== e.body) return fail('HASH', 'the event body is not in canonical form: it was edited');
    if (e.prevHash !== prev)
      return fail(
        'PREVIOUS_HASH',
        `it links to ${e.prevHash.slice(0, 12)}…, but the previous event's hash is ${prev.slice(0, 12)}…: an event before it was removed, inserted or changed`,
      );
    const hash = entryHash(e.prevHash, e.body);
    if (hash !== e.hash)
      return fail(
        'HASH',
        `its content hashes to ${hash.slice(0, 12)}…, the chain recorded ${String(e.hash).slice(0, 12)}…: the event was edited`,
      );
    let signed: boolean;
    try {
      signed = verifyEd25519(fromHex(e.hash), fromBase64(e.signature), signPublicKey);
    } catch {
      signed = false;
    }
    if (!signed) return fail('SIGNATURE', 'the signature does not verify with the coordinator key');
    prev = e.hash;
    index += 1;
  }
  return { ok: true, entries: index, lastHash: prev };
}
