/**
 * A real agent against a hostile coordinator under secure aggregation: a scripted socket.io server that passes the
 * handshake with the coordinator's own key (it is the coordinator) and then lies in the secure round's terms or routing.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { describe, expect } from 'vitest';
import {
  fromWire,
  parameterCount,
  toWire,
  type RoundTask,
  type SecAggAdvertise,
  type SecAggShareKeys,
  type SecAggTerms,
} from '../../protocol/index.js';
import { generateIdentity, secagg, type Identity } from '../../crypto/index.js';
import { encodeAndSign, toSignedModel } from '../../coordinator/rounds/model-signing.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { startCustomFederation } from './custom-federation.js';
import { e2e, type Cohort, type Federation } from './helpers.js';
import { until } from './raw-client.js';
import { greetAgent } from './hostile-coordinator.js';

const spec = mnistSpec('logreg');
const vectorLength = parameterCount(spec);
/** What the scripted hostile coordinator saw from the real agent, and what the agent reported. */
interface Hostile {
  fed: Federation;
  /** The agent's connection, once it said it was ready: the test sends it whatever it likes. */
  site: Socket;
  seen: {
    declines: { round: number; code: string; message: string }[];
    begins: number[];
    advertised: SecAggAdvertise[];
    shared: SecAggShareKeys[];
  };
  refused: { round: number; code: string; message: string }[];
}

/** A federation whose real coordinator steps aside for a scripted one with its identity, and one real agent connected to it. */
async function hostileCoordinator(cohort: Cohort): Promise<Hostile> {
  const fed = await startCustomFederation(3, { rules: { secagg: { graph: 'complete', clipNorm: 100, stepTimeoutMs: 30_000 } } });
  cohort.defer(() => fed.close().catch(() => undefined)); // its coordinator is closed twice
  await fed.coordinator.close(); // the real coordinator steps aside; its identity is the hostile one's
  const coordinator = fed.coordinatorIdentity;
  const seen: Hostile['seen'] = { declines: [], begins: [], advertised: [], shared: [] };
  const refused: Hostile['refused'] = [];
  let site: Socket | undefined;
  const http = createServer();
  const io = new Server(http, { maxHttpBufferSize: 8 << 20 });
  cohort.defer(() => new Promise<void>((resolve) => io.close(() => resolve())));
  io.on('connection', (socket) => {
    greetAgent(socket, {
      presentKey: coordinator.signPublicKey,
      proofKey: coordinator,
      spec,
      study: () => manifest(fed),
      maxUploadBytes: 1 << 22,
    });
    socket.on('agent:ready', (_m, ack: (r: unknown) => void) => ((site = socket), ack({ ok: true })));
    socket.on(
      'round:decline',
      (m: { round: number; code: string; message: string }, ack: (r: unknown) => void) => (seen.declines.push(m), ack({ ok: true })),
    );
    socket.on('secagg:advertise', (m: SecAggAdvertise, ack: (r: unknown) => void) => (seen.advertised.push(m), ack({ ok: true })));
    socket.on('secagg:share-keys', (m: SecAggShareKeys, ack: (r: unknown) => void) => (seen.shared.push(m), ack({ ok: true })));
    socket.on(
      'update:begin',
      (m: { round: number }, ack: (r: unknown) => void) => (
        seen.begins.push(m.round),
        ack({ ok: false, error: { code: 'ROUND_CLOSED', message: 'hostile server' } })
      ),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const agent = cohort.agent(fed, 0, { coordinatorUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}` });
  agent.events.on('refused', (r) => refused.push(r));
  await agent.ready;
  return { fed, site: site as Socket, seen, refused };
}

const manifest = (fed: Federation) => fed.coordinator.store.getFederation('e2e')!.manifest;

function task(fed: Federation, round: number, terms: SecAggTerms): RoundTask {
  const study = manifest(fed);
  const model = toSignedModel(
    'e2e',
    0,
    spec,
    encodeAndSign(fed.coordinatorIdentity, 'e2e', 0, spec, initialWeights(spec, 1), { round: null, spec }),
  );
  return {
    federation: 'e2e',
    round,
    deadline: Date.now() + 120_000,
    study,
    participants: terms.participants.length,
    privacy: study.privacy,
    policyHash: 'a'.repeat(64),
    use: 'training',
    config: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
    model,
    secagg: terms,
  } as RoundTask;
}

const termsFor = (round: number, participants: readonly Identity[], threatModel: 'malicious' | 'semi-honest' = 'malicious') =>
  secagg.termsFor({
    federation: 'e2e',
    round,
    participants,
    vectorLength,
    clipNorm: 100,
    maxWeight: 1000,
    graph: { kind: 'complete' },
    threatModel,
  });

describe('a real agent refuses a secure round the coordinator rigged', () => {
  e2e(
    'sybils: participants not in the manifest the site consented to are refused (SECAGG_PARTICIPANT_UNKNOWN), nothing is sent',
    async ({ cohort }) => {
      const { fed, site, seen } = await hostileCoordinator(cohort);
      const sybils = ['site-2', 'site-3', 'site-4'].map((id) => generateIdentity(id)); // site-2 and site-3 under keys the coordinator made
      const { terms } = termsFor(1, [fed.institutions[0] as Identity, ...sybils]);

      site.emit('round:task', task(fed, 1, terms));
      await until(() => seen.declines.some((d) => d.round === 1), 30_000, 'the sybil round to be declined');

      expect(seen.declines.find((d) => d.round === 1)).toMatchObject({
        code: 'SECAGG_PARTICIPANT_UNKNOWN',
        message: expect.stringContaining('site-2, site-3, site-4'),
      });
      expect(seen.advertised.filter((a) => a.round === 1)).toEqual([]);
      expect(seen.begins).not.toContain(1);
    },
  );

  e2e("a threshold below the study's malicious model is refused (SECAGG_THRESHOLD_TOO_LOW)", async ({ cohort }) => {
    const { fed, site, seen } = await hostileCoordinator(cohort);
    const { terms } = termsFor(2, fed.institutions, 'semi-honest'); // t = 2 of 3; the study states the malicious model (t = 3)

    site.emit('round:task', task(fed, 2, terms));
    await until(() => seen.declines.some((d) => d.round === 2), 30_000, 'the low-threshold round to be declined');

    expect(terms.threshold).toBe(2);
    expect(manifest(fed).privacy.secAggThreatModel).toBe('malicious');
    expect(seen.declines.find((d) => d.round === 2)).toMatchObject({ code: 'SECAGG_THRESHOLD_TOO_LOW' });
    expect(seen.advertised.filter((a) => a.round === 2)).toEqual([]);
  });

  e2e(
    'a delivery of its own share only (fewer than t dealers): the site refuses to mask and uploads nothing',
    async ({ cohort }) => {
      const { fed, site, seen, refused } = await hostileCoordinator(cohort);
      const round = 3;
      const { terms, config } = termsFor(round, fed.institutions);
      const server = secagg.createSecAggServer(config);
      const others = fed.institutions.slice(1).map((identity) => secagg.createSecAggClient({ config, identity }));
      for (const c of others) {
        const advertised = c.advertiseKeys();
        if (!advertised.ok || !server.receiveAdvertiseKeys(advertised.message).ok) throw new Error('advertise failed');
      }

      site.emit('round:task', task(fed, round, terms));
      await until(() => seen.advertised.some((a) => a.round === round), 30_000, 'the site to advertise its keys');
      const { round: _r, ...advertise } = fromWire(seen.advertised.find((a) => a.round === round) as SecAggAdvertise);
      expect(server.receiveAdvertiseKeys(advertise).ok).toBe(true);
      const keys = server.closeAdvertiseKeys();
      if (!keys.ok) throw new Error('close advertise failed');
      for (const msg of keys.messages) {
        if (msg.to === 'site-1') site.emit('secagg:keys', toWire({ round, ...msg }));
        else {
          const shared = (others.find((c) => c.id === msg.to) as secagg.SecAggClient).shareKeys(msg);
          if (!shared.ok || !server.receiveShareKeys(shared.message).ok) throw new Error('share failed');
        }
      }
      await until(() => seen.shared.some((s) => s.round === round), 30_000, 'the site to share its keys');
      const { round: _s, ...shares } = fromWire(seen.shared.find((s) => s.round === round) as SecAggShareKeys);
      expect(server.receiveShareKeys(shares).ok).toBe(true);
      const delivered = server.closeShareKeys();
      if (!delivered.ok) throw new Error('close share-keys failed');
      const toSite = delivered.messages.find((m) => m.to === 'site-1') as secagg.SharesDelivery;
      site.emit('secagg:shares', toWire({ round, ...toSite, shares: toSite.shares.filter((s) => s.from === 'site-1') }));
      await until(() => refused.some((r) => r.round === round), 60_000, 'the site to refuse masking');

      expect(refused.find((r) => r.round === round)).toMatchObject({
        code: 'SECAGG_FAILED',
        message: expect.stringContaining('shares from 1 dealers, threshold 3'),
      });
      expect(seen.begins).not.toContain(round);
    },
    90_000,
  );
});
