/** An independent builder of v2 envelopes straight from docs/reference/wire-protocol.md, section "Update envelopes" (node:crypto + tweetnacl only), for conformance tests. */
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import type { EnvelopeContext } from '../../crypto/envelope.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const lp = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** Builds an envelope by the documented layout; `tamperCiphertext` flips a ciphertext bit before signing, `digestOf` lies about the plaintext. */
export function buildEnvelope(args: {
  payload: Uint8Array;
  context: EnvelopeContext;
  recipientBoxPublicKey: Uint8Array;
  senderSignSecretKey: Uint8Array;
  tamperCiphertext?: boolean;
  digestOf?: Uint8Array;
}): Uint8Array {
  const ephSecret = new Uint8Array(randomBytes(32));
  const ephPublic = nacl.scalarMult.base(ephSecret);
  const shared = nacl.scalarMult(ephSecret, args.recipientBoxPublicKey);
  const key = Buffer.from(
    hkdfSync('sha256', shared, Buffer.concat([ephPublic, args.recipientBoxPublicKey]), Buffer.from('cohort/envelope/v1'), 32),
  );
  const nonce = randomBytes(12);
  const digest = sha(args.digestOf ?? args.payload);
  const { federation, round, institution } = args.context;
  const header = Buffer.concat([
    Buffer.from('CENV'),
    Buffer.of(2),
    ephPublic,
    nonce,
    lp(federation),
    u32(round),
    lp(institution),
    u32(args.payload.length),
    digest,
  ]);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(header, { plaintextLength: args.payload.length });
  const ciphertext = Buffer.concat([cipher.update(args.payload), cipher.final()]);
  if (args.tamperCiphertext) ciphertext[0] = (ciphertext[0] as number) ^ 1;
  const tag = cipher.getAuthTag();
  const body = Buffer.concat([header, ciphertext, tag]);
  const signed = Buffer.concat([
    Buffer.from('cohort/update/v2'),
    lp(federation),
    u32(round),
    lp(institution),
    digest,
    sha(Buffer.concat([header, tag])),
  ]);
  return new Uint8Array(Buffer.concat([body, nacl.sign.detached(signed, args.senderSignSecretKey)]));
}
