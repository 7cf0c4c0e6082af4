/** The secure-aggregation wire format: the masked-input frame, and binary fields carried as base64 text. */
import { describe, expect, it } from 'vitest';
import {
  CohortError,
  SecAggAdvertiseSchema,
  SecAggShareKeysSchema,
  decodeMaskedInput,
  encodeMaskedInput,
  fromWire,
  toWire,
} from '../../protocol/index.js';

const frame = () => ({
  meta: { kind: 'masked', round: 2 },
  complaints: [{ against: 'site-2', reason: 'UNDECRYPTABLE_SHARE' as const }],
  signature: Buffer.alloc(64, 7).toString('base64'),
  masked: Uint32Array.from([0, 1, 0xffffffff, 123456789, 42]),
});

describe('masked-input frame', () => {
  it('round-trips the vector bit for bit, with its metadata, complaints and signature', () => {
    const original = frame();
    const decoded = decodeMaskedInput(encodeMaskedInput(original), { length: 5 });
    expect(Array.from(decoded.masked)).toEqual(Array.from(original.masked));
    expect(decoded.meta).toEqual(original.meta);
    expect(decoded.complaints).toEqual(original.complaints);
    expect(decoded.signature).toBe(original.signature);
  });

  it('refuses a wrong length, a truncated frame, a foreign magic and a broken header, with codes', () => {
    const bytes = encodeMaskedInput(frame());
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as CohortError).code;
      }
      return 'accepted';
    };
    expect(code(() => decodeMaskedInput(bytes, { length: 6 }))).toBe('SHAPE_MISMATCH');
    expect(code(() => decodeMaskedInput(bytes.subarray(0, bytes.length - 4), { length: 5 }))).toBe('CORRUPT_PAYLOAD');
    const foreign = bytes.slice();
    foreign[0] = 0x58;
    expect(code(() => decodeMaskedInput(foreign, { length: 5 }))).toBe('CORRUPT_PAYLOAD');
    const broken = bytes.slice();
    broken[13] = 0x7b;
    expect(code(() => decodeMaskedInput(broken, { length: 5 }))).toBe('CORRUPT_PAYLOAD');
  });
});

describe('secure-aggregation messages on the wire', () => {
  it('carry binary fields as base64 (socket.io refuses packets with more than 10 attachments) and restore them', () => {
    const msg = {
      round: 1,
      type: 'secagg/advertise-keys' as const,
      from: 'site-1',
      cPublicKey: new Uint8Array(32).fill(1),
      sPublicKey: new Uint8Array(32).fill(2),
      signature: new Uint8Array(64).fill(3),
    };
    const wire = toWire(msg);
    expect(JSON.stringify(wire)).not.toContain('"0":');
    const parsed = SecAggAdvertiseSchema.parse(wire);
    const back = fromWire(parsed);
    expect(back.cPublicKey).toEqual(msg.cPublicKey);
    expect(back.signature).toEqual(msg.signature);
    expect(back.from).toBe('site-1');
  });

  it('checks decoded sizes: a 31-byte key or an oversized share list is refused', () => {
    const wire = toWire({
      round: 1,
      type: 'secagg/advertise-keys',
      from: 'site-1',
      cPublicKey: new Uint8Array(31),
      sPublicKey: new Uint8Array(32),
      signature: new Uint8Array(64),
    });
    expect(SecAggAdvertiseSchema.safeParse(wire).success).toBe(false);
    const share = {
      to: 'site-2',
      x: 1,
      nonce: new Uint8Array(12),
      ciphertext: new Uint8Array(144),
      sCommitment: new Uint8Array(32),
      bCommitment: new Uint8Array(32),
      signature: new Uint8Array(64),
    };
    const many = toWire({
      round: 1,
      type: 'secagg/share-keys',
      from: 'site-1',
      seedCommitment: new Uint8Array(32),
      shares: Array.from({ length: 256 }, () => share),
    });
    expect(SecAggShareKeysSchema.safeParse(many).success).toBe(false);
    const one = toWire({ round: 1, type: 'secagg/share-keys', from: 'site-1', seedCommitment: new Uint8Array(32), shares: [share] });
    expect(SecAggShareKeysSchema.safeParse(one).success).toBe(true);
  });
});
