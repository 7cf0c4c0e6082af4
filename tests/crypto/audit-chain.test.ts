import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, appendEntry, entryHash, generateIdentity, verifyChain, type ChainEntry } from '../../crypto/index.js';

const coordinator = generateIdentity('coordinator');

function chain(n: number): ChainEntry[] {
  const out: ChainEntry[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const body = {
      seq,
      ts: 1_000 + seq,
      federation: 'f',
      kind: 'round.started',
      actor: 'coordinator',
      subject: `round:${seq}`,
      data: { round: seq, participants: ['a', 'b'] },
    };
    out.push(appendEntry(out.at(-1)?.hash ?? GENESIS_HASH, body, coordinator.signSecretKey));
  }
  return out;
}

describe('the audit chain', () => {
  it('verifies an intact chain and reports its head', () => {
    const entries = chain(5);
    expect(verifyChain(entries, coordinator.signPublicKey)).toEqual({ ok: true, entries: 5, lastHash: entries[4]!.hash });
  });

  it('hashes the previous hash and the body as documented', () => {
    const [first] = chain(1);
    expect(first!.hash).toBe(entryHash(GENESIS_HASH, first!.body));
    expect(first!.prevHash).toBe(GENESIS_HASH);
  });

  it('names an edited event', () => {
    const entries = chain(5);
    entries[2] = { ...entries[2]!, body: entries[2]!.body.replace('"b"', '"c"') };
    expect(verifyChain(entries, coordinator.signPublicKey)).toMatchObject({ ok: false, seq: 3, problem: 'HASH' });
  });

  it('names a removed event', () => {
    const entries = chain(5);
    entries.splice(1, 1);
    expect(verifyChain(entries, coordinator.signPublicKey)).toMatchObject({ ok: false, index: 1, problem: 'SEQUENCE' });
  });

  it('names reordered events', () => {
    const entries = chain(5);
    [entries[1], entries[2]] = [entries[2]!, entries[1]!];
    expect(verifyChain(entries, coordinator.signPublicKey)).toMatchObject({ ok: false, index: 1, problem: 'SEQUENCE' });
  });

  it('names an inserted event even when its sequence numbers were rewritten and re-hashed without the key', () => {
    const entries = chain(4);
    const forged = appendEntry(
      entries[1]!.hash,
      { seq: 3, ts: 0, federation: 'f', kind: 'update.accepted', actor: 'x', subject: null, data: {} },
      generateIdentity('mallory').signSecretKey,
    );
    entries.splice(2, 0, forged);
    expect(verifyChain(entries, coordinator.signPublicKey)).toMatchObject({ ok: false, seq: 3, problem: 'SIGNATURE' });
  });

  it('names an event whose body was rewritten in non-canonical form', () => {
    const entries = chain(3);
    entries[0] = { ...entries[0]!, body: entries[0]!.body.replace('{', '{ ') };
    expect(verifyChain(entries, coordinator.signPublicKey)).toMatchObject({ ok: false, seq: 1, problem: 'HASH' });
  });

  it('refuses a chain signed by another key', () => {
    expect(verifyChain(chain(2), generateIdentity('coordinator').signPublicKey)).toMatchObject({ ok: false, seq: 1, problem: 'SIGNATURE' });
  });
});
