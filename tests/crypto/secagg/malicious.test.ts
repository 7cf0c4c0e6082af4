import { describe, expect, it } from 'vitest';
import { SecAggClient, createSecAggClient } from '../../../crypto/secagg/client.js';
import type {
  AdvertiseKeys,
  EncryptedShare,
  KeysBroadcast,
  RevealedShare,
  ShareKeys,
  UnmaskRequest,
  UnmaskResponse,
} from '../../../crypto/secagg/messages.js';
import { createSecAggConfig, openSession, type SecAggConfig } from '../../../crypto/secagg/protocol.js';
import { createSecAggServer } from '../../../crypto/secagg/server.js';
import { split, type Share } from '../../../crypto/secagg/shamir.js';
import { shareStatement, signDetached, unmaskStatement } from '../../../crypto/secagg/statements.js';
import type { Identity } from '../../../crypto/identity.js';
import { seededRandom } from '../helpers.js';
import { expectSurvivorAverage, makeIdentities, runProtocol } from './harness.js';

/** A dealer that gives holder number 3 a share of a different secret (with matching commitments, so the holder cannot tell). */
class InconsistentDealer extends SecAggClient {
  constructor(
    options: ConstructorParameters<typeof SecAggClient>[0],
    private readonly cheatOn: 's' | 'b',
  ) {
    super(options);
  }

  protected override splitSecret(secret: Uint8Array, threshold: number, count: number, kind: 's' | 'b'): Share[] {
    const shares = split(secret, threshold, count, seededRandom('honest part'));
    if (kind !== this.cheatOn) return shares;
    const other = split(new Uint8Array(32).fill(7), threshold, count, seededRandom('other secret'));
    shares[2] = other[2] as Share;
    return shares;
  }
}

/** What a cheating dealer does after altering an entry: sign it again with its own key. */
const resign = (config: SecAggConfig, dealer: Identity, msg: ShareKeys, entry: EncryptedShare): EncryptedShare => {
  const statement = shareStatement({ context: openSession(config).context, from: dealer.id, ...entry, seedCommitment: msg.seedCommitment });
  return { ...entry, signature: signDetached(statement, dealer.signSecretKey) };
};

describe('secure aggregation against a cheating participant', () => {
  it('names a dealer whose self-mask shares are inconsistent, and publishes nothing', () => {
    const run = runProtocol({
      n: 10,
      vectorLength: 50,
      label: 'cheat-b',
      makeClient: ({ config, identity, random }) =>
        identity.id === 'p03' ? new InconsistentDealer({ config, identity, random }, 'b') : undefined,
    });

    expect(run.outcome).toMatchObject({ ok: false, failure: { code: 'INCONSISTENT_SHARES', step: 'unmasking', participants: ['p03'] } });
    expect(run.outcome && !run.outcome.ok && run.outcome.blame).toEqual([
      expect.objectContaining({ participant: 'p03', reason: 'INCONSISTENT_SHARES', evidence: 'proof' }),
    ]);
    expect(run.server.phase).toBe('failed');
  });

  it('names a dealer whose secret-key shares are inconsistent once it drops and its key is needed', () => {
    const run = runProtocol({
      n: 10,
      vectorLength: 50,
      label: 'cheat-s',
      dropBeforeMasking: ['p03'],
      makeClient: ({ config, identity, random }) =>
        identity.id === 'p03' ? new InconsistentDealer({ config, identity, random }, 's') : undefined,
    });

    expect(run.outcome).toMatchObject({ ok: false, failure: { code: 'INCONSISTENT_SHARES', participants: ['p03'] } });
  });

  it('a share that does not decrypt is reported by its holder, the dealer is named, and the round still completes', () => {
    const run = runProtocol({
      n: 10,
      vectorLength: 50,
      label: 'undecryptable',
      tamperShareKeys: (msg, identity, config) => {
        if (identity.id !== 'p03') return msg;
        const shares = msg.shares.map((entry) => {
          if (entry.to !== 'p06') return entry;
          const ciphertext = entry.ciphertext.slice();
          ciphertext[5] = (ciphertext[5] as number) ^ 1;
          return resign(config, identity, msg, { ...entry, ciphertext });
        });
        return { ...msg, shares };
      },
    });

    const result = expectSurvivorAverage(run, []);

    expect(result.blame).toEqual([
      { participant: 'p03', reason: 'UNDECRYPTABLE_SHARE', evidence: 'complaint', reportedBy: 'p06', message: expect.any(String) },
    ]);
  });

  it("a holder that reveals a share other than the one it was dealt is caught by the dealer's signed commitment", () => {
    const run = runProtocol({
      n: 10,
      vectorLength: 50,
      label: 'liar',
      tamperUnmask: (msg, identity, config) => {
        if (identity.id !== 'p05') return msg;
        const [first, ...rest] = msg.seedShares as [RevealedShare, ...RevealedShare[]];
        const share = first.share.slice();
        share[0] = (share[0] as number) ^ 0xff;
        const seedShares = [{ ...first, share }, ...rest];
        return {
          ...msg,
          seedShares,
          signature: signDetached(
            unmaskStatement(openSession(config).context, identity.id, seedShares, msg.keyShares),
            identity.signSecretKey,
          ),
        };
      },
    });

    const result = expectSurvivorAverage(run, []);

    expect(result.blame).toEqual([expect.objectContaining({ participant: 'p05', reason: 'WRONG_SHARE_REVEALED', evidence: 'proof' })]);
  });

  it('refuses a message not signed by its sender; the round goes on without that participant', () => {
    const run = runProtocol({
      n: 10,
      vectorLength: 50,
      label: 'forged',
      tamperShareKeys: (msg, identity) => (identity.id === 'p08' ? { ...msg, seedCommitment: new Uint8Array(32) } : msg),
    });

    expect(run.receipts.filter((r) => !r.ok)).toEqual([expect.objectContaining({ ok: false, reason: 'BAD_SIGNATURE' })]);
    expect(expectSurvivorAverage(run, ['p08']).survivors).not.toContain('p08');
  });
});

describe('the consistency rule: the server never obtains both shares of one participant', () => {
  const run = runProtocol({ n: 10, vectorLength: 20, label: 'rule', stopBeforeUnmask: true });
  const requestFor = (id: string) => run.requests.find((r) => r.to === id) as UnmaskRequest;
  const client = (id: string) => run.clients.get(id) as SecAggClient;

  it('a participant refuses a request naming someone both survivor and dropped', () => {
    const request = requestFor('p00');

    const answer = client('p00').unmask({ ...request, dropped: ['p01'] });

    expect(answer).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE', participants: ['p01'] } });
    expect(client('p00').phase).toBe('aborted');
  });

  it('a participant answers one unmask request only: a second one, calling a survivor dropped, is refused', () => {
    const request = requestFor('p01');

    const first = client('p01').unmask(request);
    const second = client('p01').unmask({ ...request, survivors: request.survivors.filter((id) => id !== 'p02'), dropped: ['p02'] });

    expect(first.ok).toBe(true);
    expect(first.ok && first.message.seedShares.map((s) => s.of)).toContain('p02');
    expect(second).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE' } });
  });

  it('a participant refuses to be listed as dropped, and refuses fewer than t survivors', () => {
    const selfDropped = client('p03').unmask({
      ...requestFor('p03'),
      survivors: requestFor('p03').survivors.filter((id) => id !== 'p03'),
      dropped: ['p03'],
    });
    const tooFew = client('p04').unmask({ ...requestFor('p04'), survivors: ['p04', 'p05', 'p06'], dropped: [] });

    expect(selfDropped).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE' } });
    expect(tooFew).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE', have: 3, need: 7 } });
  });

  it('the server refuses a response that volunteers a key share of a survivor', () => {
    const honest = client('p05').unmask(requestFor('p05'));
    if (!honest.ok) throw new Error('p05 should answer');
    const volunteered: UnmaskResponse = { ...honest.message, keyShares: [{ ...(honest.message.seedShares[0] as RevealedShare) }] };

    expect(run.server.receiveUnmask(volunteered)).toMatchObject({ ok: false, reason: 'MALFORMED' });
    expect(run.server.receiveUnmask(honest.message)).toEqual({ ok: true });
  });

  it('honest participants reveal, per participant, shares of one kind only, even with dropouts', () => {
    const responses: UnmaskResponse[] = [];
    const withDrops = runProtocol({
      n: 10,
      vectorLength: 20,
      label: 'kinds',
      dropBeforeMasking: ['p02', 'p07'],
      tamperUnmask: (m) => (responses.push(m), m),
    });

    const seedOf = new Set(responses.flatMap((r) => r.seedShares.map((s) => s.of)));
    const keyOf = new Set(responses.flatMap((r) => r.keyShares.map((s) => s.of)));

    expect(withDrops.outcome?.ok).toBe(true);
    expect([...keyOf].sort()).toEqual(['p02', 'p07']);
    expect([...seedOf].filter((id) => keyOf.has(id))).toEqual([]);
  });
});

describe('a participant checks what the server relays', () => {
  it("refuses keys the server altered (a neighbour's s key replaced)", () => {
    const identities = makeIdentities(3, 'relay');
    const config = createSecAggConfig({
      federation: 'cardio',
      round: 2,
      participants: identities,
      vectorLength: 4,
      clipNorm: 1,
      maxWeight: 10,
    });
    const server = createSecAggServer(config);
    const clients = identities.map((identity) => createSecAggClient({ config, identity, random: seededRandom(`relay/${identity.id}`) }));
    for (const c of clients) {
      const advertise = c.advertiseKeys();
      if (advertise.ok) server.receiveAdvertiseKeys(advertise.message);
    }
    const closed = server.closeAdvertiseKeys();
    if (!closed.ok) throw new Error('three participants advertised');
    const toFirst = closed.messages.find((m) => m.to === 'p00') as KeysBroadcast;
    const [victim, ...others] = toFirst.keys as [AdvertiseKeys, ...AdvertiseKeys[]];

    const answer = (clients[0] as SecAggClient).shareKeys({
      ...toFirst,
      keys: [{ ...victim, sPublicKey: others[0]?.sPublicKey as Uint8Array }, ...others],
    });

    expect(answer).toMatchObject({ ok: false, failure: { code: 'BAD_MESSAGE' } });
    expect((clients[1] as SecAggClient).shareKeys(closed.messages.find((m) => m.to === 'p01') as KeysBroadcast).ok).toBe(true);
  });
});
