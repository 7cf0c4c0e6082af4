import { describe, expect, it } from 'vitest';
import { createSecAggConfig } from '../../../crypto/secagg/protocol.js';
import { buildGraph } from '../../../crypto/secagg/graph.js';
import { createSecAggClient } from '../../../crypto/secagg/client.js';
import { createSecAggServer } from '../../../crypto/secagg/server.js';
import { seededRandom } from '../helpers.js';
import { expectSurvivorAverage, makeIdentities, runProtocol } from './harness.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, '0')}`);

describe('secure aggregation with dropouts after the masking step', () => {
  it.each([
    ['0%', [] as string[]],
    ['10%', ['p04']],
    ['30%', ['p01', 'p05', 'p08']],
  ])("n = 10, complete graph, t = 7: %s dropped still gives the survivors' weighted average", (_rate, dropped) => {
    const run = runProtocol({ n: 10, vectorLength: 400, label: `drop-${dropped.length}`, dropBeforeMasking: dropped });

    const result = expectSurvivorAverage(run, dropped);

    expect(result.dropped).toEqual(dropped);
    expect(result.survivors).toHaveLength(10 - dropped.length);
  });

  it('survivors that then miss the unmask step do not stop the round while t still answer', () => {
    const run = runProtocol({ n: 10, vectorLength: 100, label: 'late', dropBeforeMasking: ['p02'], dropBeforeUnmask: ['p07', 'p09'] });

    const result = expectSurvivorAverage(run, ['p02']);

    expect(result.survivors).toContain('p07'); // its input is in the sum; it only did not help unmask
  });
});

describe('secure aggregation with dropouts at the consistency check', () => {
  it('a survivor that does not sign the survivor set is not asked to unmask; its input stays in the sum', () => {
    const run = runProtocol({ n: 10, vectorLength: 50, label: 'no-sign', dropBeforeConsistency: ['p03', 'p06'] });

    const result = expectSurvivorAverage(run, []);

    expect(run.requests.map((r) => r.to)).not.toContain('p03');
    expect(result.survivors).toContain('p03');
  });

  it('fewer than t sign: a typed failure at the consistency check, and no unmask request', () => {
    const run = runProtocol({ n: 10, vectorLength: 50, label: 'few-sign', dropBeforeConsistency: ids(10).slice(0, 4) });

    expect(run.outcome).toMatchObject({
      ok: false,
      failure: { code: 'TOO_FEW_PARTICIPANTS', step: 'consistency-check', have: 6, need: 7 },
    });
    expect(run.requests).toEqual([]);
  });
});

describe('secure aggregation below the threshold', () => {
  it('fewer than t survivors after masking: a typed failure, no unmask request is ever sent, no sum', () => {
    const dropped = ['p00', 'p02', 'p04', 'p06', 'p08']; // 5 of 10 survive, t = 7

    const run = runProtocol({ n: 10, vectorLength: 50, label: 'below', dropBeforeMasking: dropped });

    expect(run.stoppedAt).toBe('masked-input');
    expect(run.outcome).toMatchObject({ ok: false, failure: { code: 'TOO_FEW_PARTICIPANTS', step: 'masked-input', have: 5, need: 7 } });
    expect(run.requests).toEqual([]);
    expect(run.server.phase).toBe('failed');
    expect(run.server.finish()).toMatchObject({ ok: false, failure: { code: 'TOO_FEW_PARTICIPANTS' } });
    expect(run.server.closeMaskedInput()).toMatchObject({ ok: false });
  });

  it('fewer than t answer the unmask request: a typed failure and no average', () => {
    const run = runProtocol({ n: 10, vectorLength: 50, label: 'few-answers', dropBeforeUnmask: ids(10).slice(0, 5) });

    expect(run.outcome).toMatchObject({ ok: false, failure: { code: 'TOO_FEW_PARTICIPANTS', step: 'unmasking', have: 5, need: 7 } });
    expect(run.outcome && 'result' in run.outcome).toBe(false);
  });

  it('SecAgg+ (n = 30, degree 10) at 30% dropped: a neighbourhood left with fewer than t holders fails cleanly, naming whose secret is lost', () => {
    const dropped = ['p01', 'p05', 'p09', 'p13', 'p17', 'p21', 'p25', 'p29', 'p03'];

    const run = runProtocol({ n: 30, vectorLength: 200, label: 'drop-plus', graph: 'harary', dropBeforeMasking: dropped });

    // Who, from the public graph alone (its seed derived from round 0), keeps fewer than t = 8 of its 11 share holders after these 9 dropouts?
    const graph = buildGraph(30, { kind: 'harary', degree: 10, seed: run.server.graphSeed as Uint8Array });
    const starved = run.config.participants
      .map((p, i) => ({
        id: p.id,
        left: [i, ...graph.neighbours(i)].filter((h) => !dropped.includes(run.config.participants[h]?.id as string)).length,
      }))
      .filter((p) => p.left < run.config.threshold)
      .map((p) => p.id);
    expect(starved.length).toBeGreaterThan(0); // degree 10 is too small for 30% dropout at n = 30 with this graph seed
    expect(run.outcome).toMatchObject({ ok: false, failure: { code: 'INSUFFICIENT_SHARES', step: 'unmasking' } });
    const named = run.outcome && !run.outcome.ok ? (run.outcome.failure.participants ?? []) : [];
    expect(named).toHaveLength(1);
    expect(starved).toContain(named[0]);
    expect(run.server.phase).toBe('failed');
  });

  it('fewer than t advertise keys: the round stops before any secret is shared', () => {
    const identities = makeIdentities(10, 'lonely');
    const config = createSecAggConfig({
      federation: 'cardio',
      round: 1,
      participants: identities,
      vectorLength: 10,
      clipNorm: 1,
      maxWeight: 10,
    });
    const server = createSecAggServer(config);
    for (const identity of identities.slice(0, 5)) {
      const advertise = createSecAggClient({ config, identity, random: seededRandom(identity.id) }).advertiseKeys();
      if (advertise.ok) server.receiveAdvertiseKeys(advertise.message);
    }

    const closed = server.closeAdvertiseKeys();

    expect(closed).toMatchObject({ ok: false, failure: { code: 'TOO_FEW_PARTICIPANTS', step: 'advertise-keys', have: 5, need: 7 } });
    expect(
      server.receiveShareKeys({ type: 'secagg/share-keys', from: 'p00', seedCommitment: new Uint8Array(32), shares: [] }),
    ).toMatchObject({ ok: false, reason: 'WRONG_PHASE' });
  });
});
