/** Secure aggregation against an active server (Bonawitz et al. CCS 2017, section 6): a coordinator that lies in what it routes. */
import { describe, expect, it } from 'vitest';
import { clipL2 } from '../../../crypto/dp/clip-noise.js';
import { SecAggClient, createSecAggClient, type SecAggClientOptions } from '../../../crypto/secagg/client.js';
import type { MaskedInput, SharesDelivery, UnmaskResponse } from '../../../crypto/secagg/messages.js';
import { applyMask } from '../../../crypto/secagg/prg.js';
import { createSecAggConfig, type SecAggConfig } from '../../../crypto/secagg/protocol.js';
import { dequantiseSum } from '../../../crypto/secagg/ring.js';
import { createSecAggServer } from '../../../crypto/secagg/server.js';
import { combine } from '../../../crypto/secagg/shamir.js';
import type { Identity } from '../../../crypto/identity.js';
import { seededRandom } from '../helpers.js';
import { CLIP_NORM, MAX_WEIGHT, consistencyRound, makeIdentities, makeUpdates, maxAbsDiff } from './harness.js';

/** A client without the round-2 check (fewer than t dealers): what the code did before the defence. */
class UncheckedClient extends SecAggClient {
  protected override get checksDelivery(): boolean {
    return false;
  }
}

interface Setup {
  config: SecAggConfig;
  identities: Identity[];
  clients: Map<string, SecAggClient>;
  deliveries: SharesDelivery[];
  updates: Float32Array[];
  weights: number[];
}

/** Runs rounds 0 and 1 honestly through the real server; the dishonest part starts with the deliveries it returns. */
function keyExchange(n: number, label: string, makeClient: (options: SecAggClientOptions) => SecAggClient = createSecAggClient): Setup {
  const identities = makeIdentities(n, label);
  const config = createSecAggConfig({
    federation: 'cardio',
    round: 4,
    participants: identities,
    vectorLength: 16,
    clipNorm: CLIP_NORM,
    maxWeight: MAX_WEIGHT,
  });
  const server = createSecAggServer(config);
  const clients = new Map(
    identities.map((identity) => [identity.id, makeClient({ config, identity, random: seededRandom(`${label}/${identity.id}`) })]),
  );
  for (const c of clients.values()) {
    const advertise = c.advertiseKeys();
    if (!advertise.ok || !server.receiveAdvertiseKeys(advertise.message).ok) throw new Error('advertise failed');
  }
  const keys = server.closeAdvertiseKeys();
  if (!keys.ok) throw new Error('close advertise failed');
  for (const msg of keys.messages) {
    const shared = (clients.get(msg.to) as SecAggClient).shareKeys(msg);
    if (!shared.ok || !server.receiveShareKeys(shared.message).ok) throw new Error('share-keys failed');
  }
  const delivered = server.closeShareKeys();
  if (!delivered.ok) throw new Error('close share-keys failed');
  const { updates, weights } = makeUpdates(n, config.vectorLength, 7);
  return { config, identities, clients, deliveries: delivered.messages, updates, weights };
}

/**
 * The attack of issue 13: the server delivers the target only its own share, so the target's masked input carries its
 * self-mask alone; then it asks the others, in the ordinary way, for the b shares of every survivor (the target included).
 */
function isolateTarget(
  setup: Setup,
  target: string,
): { targetMasked: ReturnType<SecAggClient['maskedInput']>; recovered: Float32Array | null } {
  const { config, identities, clients, deliveries, updates, weights } = setup;
  const masked = new Map<string, MaskedInput>();
  let targetMasked: ReturnType<SecAggClient['maskedInput']> | undefined;
  for (const delivery of deliveries) {
    const k = identities.findIndex((i) => i.id === delivery.to);
    const input = { update: updates[k] as Float32Array, weight: weights[k] as number };
    const forged = delivery.to === target ? { ...delivery, shares: delivery.shares.filter((s) => s.from === target) } : delivery;
    const answer = (clients.get(delivery.to) as SecAggClient).maskedInput(forged, input);
    if (delivery.to === target) targetMasked = answer;
    if (answer.ok) masked.set(delivery.to, answer.message);
  }
  const y = masked.get(target);
  if (!y) return { targetMasked: targetMasked as ReturnType<SecAggClient['maskedInput']>, recovered: null };
  const others = [...masked.keys()].filter((id) => id !== target);
  const responses = consistencyRound(config, clients, others, [...masked.keys()]);
  const bShares = responses.flatMap((r: UnmaskResponse) =>
    r.seedShares.filter((s) => s.of === target).map((s) => ({ index: s.x, bytes: s.share })),
  );
  const b = combine(bShares.slice(0, config.threshold));
  const clear = y.masked.slice();
  applyMask(clear, b, -1, { kind: 'self-mask', federation: config.federation, round: config.round });
  return {
    targetMasked: targetMasked as ReturnType<SecAggClient['maskedInput']>,
    recovered: dequantiseSum(clear, config.quantisation).average,
  };
}

describe("a server that delivers a participant fewer than t dealers' shares", () => {
  it("without the round-2 check, the server recovers the target's individual update from an ordinary unmask request", () => {
    const setup = keyExchange(5, 'isolate-unchecked', (o) => new UncheckedClient(o));

    const { targetMasked, recovered } = isolateTarget(setup, 'p00');

    const { clipped } = clipL2(setup.updates[0] as Float32Array, CLIP_NORM);
    expect(targetMasked.ok).toBe(true);
    expect(recovered).not.toBeNull();
    expect(maxAbsDiff(recovered as Float32Array, clipped)).toBeLessThan(1e-3);
  });

  it('with the check, the target refuses to mask (TOO_FEW_PARTICIPANTS) and sends nothing', () => {
    const setup = keyExchange(5, 'isolate-checked');

    const { targetMasked, recovered } = isolateTarget(setup, 'p00');

    expect(targetMasked).toMatchObject({
      ok: false,
      failure: { code: 'TOO_FEW_PARTICIPANTS', step: 'masked-input', have: 1, need: setup.config.threshold },
    });
    expect(recovered).toBeNull();
    expect(setup.clients.get('p00')?.phase).toBe('aborted');
  });

  it('a delivery from exactly t dealers is accepted', () => {
    const setup = keyExchange(5, 'isolate-t');
    const t = setup.config.threshold;
    const delivery = setup.deliveries.find((d) => d.to === 'p00') as SharesDelivery;

    const answer = (setup.clients.get('p00') as SecAggClient).maskedInput(
      { ...delivery, shares: delivery.shares.slice(0, t) },
      { update: setup.updates[0] as Float32Array, weight: 1 },
    );

    expect(delivery.shares.slice(0, t).map((s) => s.from)).toContain('p00');
    expect(answer.ok).toBe(true);
  });
});

/** Masks every participant's input honestly; returns the clients ready for the consistency check. */
function maskAll(setup: Setup): void {
  setup.deliveries.forEach((delivery) => {
    const k = setup.identities.findIndex((i) => i.id === delivery.to);
    const answer = (setup.clients.get(delivery.to) as SecAggClient).maskedInput(delivery, {
      update: setup.updates[k] as Float32Array,
      weight: setup.weights[k] as number,
    });
    if (!answer.ok) throw new Error('masking failed');
  });
}

describe('the consistency check: a server that tells different survivor sets to different participants', () => {
  it('each group signs what it was told, and no honest participant reveals a share: neither set has t signatures', () => {
    const setup = keyExchange(7, 'split-views');
    maskAll(setup);
    const all = setup.identities.map((i) => i.id);
    const groupA = all.slice(0, 4); // told p00 survived: would reveal p00's self-mask shares
    const groupB = all.slice(4); // told p00 dropped: would reveal p00's key shares

    const a = consistencyRound(setup.config, setup.clients, groupA, all);
    const b = consistencyRound(setup.config, setup.clients, groupB, all.slice(1), ['p00']);

    expect(setup.config.threshold).toBe(5);
    expect([...a, ...b]).toEqual([]);
    expect(all.map((id) => setup.clients.get(id)?.phase)).toEqual(new Array(7).fill('aborted'));
  });

  it('refuses an unmask request whose survivors differ from the set it signed, even with t signatures on that set', () => {
    const setup = keyExchange(7, 'switch-set');
    maskAll(setup);
    const all = setup.identities.map((i) => i.id);
    const signatures = all.map((to) => {
      const signed = (setup.clients.get(to) as SecAggClient).signSurvivors({ type: 'secagg/consistency-request', to, survivors: all });
      if (!signed.ok) throw new Error('sign failed');
      return { from: to, signature: signed.message.signature };
    });

    const switched = (setup.clients.get('p01') as SecAggClient).unmask({
      type: 'secagg/unmask-request',
      to: 'p01',
      survivors: all.slice(1),
      dropped: ['p00'],
      signatures,
    });
    const forgedCount = (setup.clients.get('p02') as SecAggClient).unmask({
      type: 'secagg/unmask-request',
      to: 'p02',
      survivors: all,
      dropped: [],
      signatures: [...signatures.slice(0, 4), ...signatures.slice(0, 4)],
    });
    const honest = (setup.clients.get('p03') as SecAggClient).unmask({
      type: 'secagg/unmask-request',
      to: 'p03',
      survivors: all,
      dropped: [],
      signatures,
    });

    expect(switched).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE' } });
    expect(forgedCount).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE', have: 4, need: 5 } });
    expect(honest.ok).toBe(true);
  });

  it('signs one survivor set only: a second consistency request is refused', () => {
    const setup = keyExchange(5, 'sign-twice');
    maskAll(setup);
    const all = setup.identities.map((i) => i.id);
    const client = setup.clients.get('p00') as SecAggClient;

    const first = client.signSurvivors({ type: 'secagg/consistency-request', to: 'p00', survivors: all });
    const second = client.signSurvivors({ type: 'secagg/consistency-request', to: 'p00', survivors: all.slice(0, 4) });

    expect(first.ok).toBe(true);
    expect(second).toMatchObject({ ok: false, failure: { code: 'CONSISTENCY_RULE' } });
  });
});

describe("SecAgg+: the graph is not the server's choice", () => {
  function advertised(n: number, label: string) {
    const identities = makeIdentities(n, label);
    const config = createSecAggConfig({
      federation: 'cardio',
      round: 5,
      participants: identities,
      vectorLength: 8,
      clipNorm: CLIP_NORM,
      maxWeight: MAX_WEIGHT,
      graph: { kind: 'harary', degree: 4 },
    });
    const server = createSecAggServer(config);
    const clients = new Map(
      identities.map((identity) => [
        identity.id,
        createSecAggClient({ config, identity, random: seededRandom(`${label}/${identity.id}`) }),
      ]),
    );
    for (const c of clients.values()) {
      const advertise = c.advertiseKeys();
      if (!advertise.ok || !server.receiveAdvertiseKeys(advertise.message).ok) throw new Error('advertise failed');
    }
    const keys = server.closeAdvertiseKeys();
    if (!keys.ok) throw new Error('close advertise failed');
    return { config, server, clients, keys: keys.messages };
  }

  it('the terms carry no seed: every participant derives the same graph as the server from the signed advertisements', () => {
    const { config, server, clients, keys } = advertised(12, 'derived');

    const holders = keys.map((msg) => {
      const shared = (clients.get(msg.to) as SecAggClient).shareKeys(msg);
      if (!shared.ok || !server.receiveShareKeys(shared.message).ok) throw new Error('share-keys refused');
      return shared.message.shares.map((s) => s.to);
    });

    expect(config.graph).toEqual({ kind: 'harary', degree: 4 });
    expect(server.graphSeed).toHaveLength(32);
    expect(holders.map((h) => h.length)).toEqual(new Array(12).fill(5));
  });

  it("a server that shows one participant a different advertiser set changes only that participant's graph, and its shares are refused", () => {
    const { server, clients, keys } = advertised(12, 'omitted');
    const target = keys[0] as (typeof keys)[number];

    const shared = (clients.get(target.to) as SecAggClient).shareKeys({ ...target, keys: target.keys.slice(1) });

    expect(shared.ok).toBe(true);
    expect(shared.ok && server.receiveShareKeys(shared.message)).toMatchObject({ ok: false, reason: 'MALFORMED' });
  });
});
