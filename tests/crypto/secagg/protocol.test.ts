import { describe, expect, it } from 'vitest';
import { createSecAggConfig } from '../../../crypto/secagg/protocol.js';
import { createSecAggClient } from '../../../crypto/secagg/client.js';
import { createSecAggServer } from '../../../crypto/secagg/server.js';
import nacl from 'tweetnacl';
import { signDetached, verifyDetached } from '../../../crypto/secagg/statements.js';
import { utf8Encode } from '../../../crypto/bytes.js';
import { seededRandom } from '../helpers.js';
import { expectSurvivorAverage, makeIdentities, runProtocol } from './harness.js';

describe('secure aggregation, full rounds in memory', () => {
  it('n = 10, complete graph: the unmasked weighted average equals plain FedAvg within the quantisation error', () => {
    const run = runProtocol({ n: 10, vectorLength: 500, label: 'full-10' });

    const result = expectSurvivorAverage(run, []);

    expect(run.config.threshold).toBe(7); // more than two thirds of the 10 holders (the malicious default)
    expect(run.receipts.every((r) => r.ok)).toBe(true);
    expect(result.survivors).toHaveLength(10);
    expect(result.dropped).toEqual([]);
    expect(result.blame).toEqual([]);
    expect(run.server.phase).toBe('done');
    expect([...run.clients.values()].every((c) => c.phase === 'done')).toBe(true);
  });

  it('n = 30, SecAgg+ (degree 10): each participant sees every signed advertisement (to derive the graph) and shares with 10 neighbours only, and the average is FedAvg', () => {
    const run = runProtocol({ n: 30, vectorLength: 300, label: 'full-30', graph: 'harary' });

    expectSurvivorAverage(run, []);

    expect(run.config.graph).toMatchObject({ kind: 'harary', degree: 10 });
    expect(run.config.threshold).toBe(8); // more than two thirds of the 11 holders (itself + 10 neighbours)
    expect(run.broadcasts.map((b) => b.keys.length)).toEqual(new Array(30).fill(29));
    expect(run.deliveries.map((d) => d.shares.length)).toEqual(new Array(30).fill(11));
  });
});

describe('secure aggregation configuration', () => {
  const participants = makeIdentities(12, 'config').map((i) => ({ id: i.id, signPublicKey: i.signPublicKey }));
  const base = { federation: 'cardio', round: 1, participants, vectorLength: 10, clipNorm: 1, maxWeight: 100 };

  it('defaults to more than two thirds (malicious) or a majority (semi-honest); requires a majority, at least 2, at most the share holders', () => {
    expect(createSecAggConfig(base).threshold).toBe(9);
    expect(createSecAggConfig({ ...base, threatModel: 'semi-honest' }).threshold).toBe(7);
    expect(createSecAggConfig({ ...base, threshold: 7 }).threshold).toBe(7);
    expect(() => createSecAggConfig({ ...base, threshold: 6 })).toThrow(/majority/);
    expect(() => createSecAggConfig({ ...base, threshold: 13 })).toThrow(RangeError);
    expect(() => createSecAggConfig({ ...base, participants: participants.slice(0, 1) })).toThrow(/at least 2/);
    expect(() => createSecAggConfig({ ...base, participants: [participants[0]!, participants[0]!] })).toThrow(/duplicate/);
  });

  it('sorts participants by id and binds every public parameter into the context digest', () => {
    const config = createSecAggConfig({ ...base, participants: [...participants].reverse() });
    const other = createSecAggConfig({ ...base, clipNorm: 2 });
    const a = createSecAggServer(config);
    const b = createSecAggServer(other);
    const client = createSecAggClient({ config: other, identity: makeIdentities(1, 'config')[0]!, random: seededRandom('ctx') });

    const advertise = client.advertiseKeys();

    expect(config.participants.map((p) => p.id)).toEqual(participants.map((p) => p.id));
    expect(Object.keys(createSecAggConfig({ ...base, participants: makeIdentities(3, 'config') }).participants[0] as object)).toEqual([
      'id',
      'signPublicKey',
    ]);
    expect(advertise.ok && b.receiveAdvertiseKeys(advertise.message)).toEqual({ ok: true });
    expect(advertise.ok && a.receiveAdvertiseKeys(advertise.message)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
  });
});

describe('secure aggregation signatures', () => {
  it("are standard Ed25519: node:crypto signing gives tweetnacl's bytes, and each side verifies the other", () => {
    const [me] = makeIdentities(1, 'sig');
    const message = utf8Encode('cohort/secagg test message');

    const signature = signDetached(message, me!.signSecretKey);

    expect(signature).toEqual(nacl.sign.detached(message, me!.signSecretKey));
    expect(nacl.sign.detached.verify(message, signature, me!.signPublicKey)).toBe(true);
    expect(verifyDetached(message, nacl.sign.detached(message, me!.signSecretKey), me!.signPublicKey)).toBe(true);
    expect(verifyDetached(utf8Encode('another message'), signature, me!.signPublicKey)).toBe(false);
    expect(verifyDetached(message, signature.subarray(1), me!.signPublicKey)).toBe(false);
  });
});
