import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { toBase64 } from '../../crypto/bytes.js';
import {
  fingerprint,
  generateIdentity,
  parseIdentity,
  parsePublicIdentity,
  publicIdentityOf,
  serializeIdentity,
  serializePublicIdentity,
} from '../../crypto/identity.js';
import { seededRandom } from './helpers.js';

describe('identity', () => {
  it('round-trips a full identity through its JSON form', () => {
    const me = generateIdentity('st-marys');

    const text = serializeIdentity(me);
    const back = parseIdentity(text);

    expect(JSON.parse(text).format).toBe('cohort-identity/v1');
    expect(back).toEqual(me);
  });

  it('round-trips a public identity and includes its fingerprint', () => {
    const pub = publicIdentityOf(generateIdentity('st-marys'));

    const text = serializePublicIdentity(pub);
    const back = parsePublicIdentity(text);

    expect(JSON.parse(text)).toMatchObject({
      format: 'cohort-public-identity/v1',
      id: 'st-marys',
      fingerprint: fingerprint(pub.signPublicKey),
    });
    expect(back).toEqual(pub);
    expect(text).not.toMatch(/SecretKey/);
  });

  it('produces usable keys: signatures verify and box keys agree', () => {
    const a = generateIdentity('a');
    const b = generateIdentity('b');

    const signature = nacl.sign.detached(Uint8Array.of(1, 2, 3), a.signSecretKey);

    expect(nacl.sign.detached.verify(Uint8Array.of(1, 2, 3), signature, a.signPublicKey)).toBe(true);
    expect(nacl.scalarMult(a.boxSecretKey, b.boxPublicKey)).toEqual(nacl.scalarMult(b.boxSecretKey, a.boxPublicKey));
  });

  it('is deterministic with an injected random source and differs across seeds', () => {
    const first = generateIdentity('inst', seededRandom('seed-1'));
    const again = generateIdentity('inst', seededRandom('seed-1'));
    const other = generateIdentity('inst', seededRandom('seed-2'));

    expect(again).toEqual(first);
    expect(other.signPublicKey).not.toEqual(first.signPublicKey);
    expect(other.boxPublicKey).not.toEqual(first.boxPublicKey);
  });

  it('refuses a file whose public key does not match its secret key', () => {
    const me = generateIdentity('st-marys');
    const other = generateIdentity('other');
    const doc = JSON.parse(serializeIdentity(me));

    const signSwapped = JSON.stringify({ ...doc, signPublicKey: toBase64(other.signPublicKey) });
    const boxSwapped = JSON.stringify({ ...doc, boxPublicKey: toBase64(other.boxPublicKey) });

    expect(() => parseIdentity(signSwapped)).toThrow(/signPublicKey does not match signSecretKey/);
    expect(() => parseIdentity(boxSwapped)).toThrow(/boxPublicKey does not match boxSecretKey/);
  });

  it('refuses wrong formats, lengths, ids and fingerprints with short messages', () => {
    const me = generateIdentity('st-marys');
    const doc = JSON.parse(serializeIdentity(me));
    const pubDoc = JSON.parse(serializePublicIdentity(publicIdentityOf(me)));

    expect(() => parseIdentity('not json')).toThrow(/invalid JSON/);
    expect(() => parseIdentity(JSON.stringify({ ...doc, format: 'other/v9' }))).toThrow(/unsupported identity format/);
    expect(() => parseIdentity(JSON.stringify({ ...doc, boxSecretKey: toBase64(new Uint8Array(31)) }))).toThrow(
      /boxSecretKey must be 32 bytes, got 31/,
    );
    expect(() => parseIdentity(JSON.stringify({ ...doc, signSecretKey: '!!' }))).toThrow(/signSecretKey is not valid base64/);
    expect(() => parseIdentity(JSON.stringify({ ...doc, id: '../etc' }))).toThrow(/id must be/);
    expect(() => parseIdentity(JSON.stringify(pubDoc))).toThrow(/public identity/);
    expect(() => parsePublicIdentity(JSON.stringify(doc))).toThrow(/private identity .* secret keys/);
    expect(() => parsePublicIdentity(JSON.stringify({ ...pubDoc, fingerprint: '0000' }))).toThrow(/fingerprint "0000" does not match/);
    expect(() => generateIdentity('has space')).toThrow(/id must be/);
    expect(() => generateIdentity('x', () => new Uint8Array(16))).toThrow(/random source returned 16 bytes, expected 32/);
  });

  it('fingerprints a key as 8 groups of 4 hex digits of its SHA-256', () => {
    const key = new Uint8Array(32);

    const fp = fingerprint(key);

    // sha256 of 32 zero bytes = 66687aadf862bd776c8fc18b8e9f8e20...
    expect(fp).toBe('6668:7aad:f862:bd77:6c8f:c18b:8e9f:8e20');
  });
});
