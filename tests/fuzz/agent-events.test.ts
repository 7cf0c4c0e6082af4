/** Fuzzing the agent's handlers of every coordinator event: a server that passes the handshake sends malformed tasks and notices; the agent declines or ignores them, never crashes, and still trains a genuine task after. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Server, type Socket } from 'socket.io';
import { afterAll, describe, expect } from 'vitest';
import type { RoundTask } from '../../protocol/index.js';
import { encodeAndSign, toSignedModel } from '../../coordinator/rounds/model-signing.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { startCustomFederation } from '../e2e/custom-federation.js';
import { e2e } from '../e2e/helpers.js';
import { until } from '../e2e/raw-client.js';
import { FUZZ_SEED, mutated, reportFuzz, runs, weirdValue } from './fuzz-report.js';
import { greetAgent } from '../e2e/hostile-coordinator.js';

const counts: Record<string, number> = {};
afterAll(() => reportFuzz('agent-events', counts));

/** The server events an agent handles after it is ready (the handshake's own are covered by tests/e2e/bad-input). */
const SERVER_EVENTS = [
  'round:task',
  'round:evaluate',
  'round:closed',
  'federation:complete',
  'secagg:keys',
  'secagg:shares',
  'secagg:consistency-request',
  'secagg:unmask-request',
  'stats:query',
] as const;

describe('an agent under fuzzed coordinator messages', () => {
  e2e('declines or ignores every malformed message without crashing, and trains a genuine task afterwards', async ({ cohort }) => {
    const fed = cohort.track(await startCustomFederation(1));
    const coordinator = fed.coordinatorIdentity;
    const study = fed.coordinator.store.getFederation('e2e')!.manifest;
    const spec = mnistSpec('logreg');
    const model = toSignedModel('e2e', 0, spec, encodeAndSign(coordinator, 'e2e', 0, spec, initialWeights(spec, 1), { round: null, spec }));
    const task = (round: number): RoundTask =>
      ({
        federation: 'e2e',
        round,
        deadline: Date.now() + 600_000,
        study,
        participants: 1,
        privacy: study.privacy,
        policyHash: 'a'.repeat(64),
        use: 'training',
        config: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
        model,
      }) as RoundTask;
    const valid: Record<(typeof SERVER_EVENTS)[number], unknown> = {
      'round:task': task(1),
      'round:evaluate': { ...task(1), use: 'evaluation', config: undefined },
      'round:closed': { round: 1, state: 'published', version: 1 },
      'federation:complete': { rounds: 1, finalVersion: 1 },
      'secagg:keys': { round: 1, type: 'secagg/keys', to: 'site-1', keys: [] },
      'secagg:shares': { round: 1, type: 'secagg/shares', to: 'site-1', shares: [] },
      'secagg:consistency-request': { round: 1, type: 'secagg/consistency-request', to: 'site-1', survivors: [] },
      'secagg:unmask-request': { round: 1, type: 'secagg/unmask-request', to: 'site-1', dropped: [], survivors: [], signatures: [] },
      'stats:query': {
        id: 'query-0001',
        federation: 'e2e',
        minCellSize: 5,
        ask: {
          phase: 'count',
          numeric: [{ column: 'age', edges: [0, 50] }],
          categorical: ['sex'],
          crosstabs: [],
          survival: { time: 't', event: 'e', grid: [1] },
        },
      },
    };

    // A server that passes the handshake with the coordinator's own proof (as a relay could), then says anything.
    const http = createServer();
    const io = new Server(http, { maxHttpBufferSize: 8 << 20 });
    cohort.defer(() => new Promise<void>((resolve) => io.close(() => resolve())));
    const seen = { declines: [] as { round: number; code: string; message: string }[], begins: [] as { round: number }[] };
    let site: Socket | undefined;
    io.on('connection', (socket) => {
      greetAgent(socket, { presentKey: coordinator.signPublicKey, proofKey: coordinator, spec, study: () => study });
      socket.on('agent:ready', (_m, ack: (r: unknown) => void) => ((site = socket), ack({ ok: true })));
      socket.on(
        'round:decline',
        (m: { round: number; code: string; message: string }, ack: (r: unknown) => void) => (seen.declines.push(m), ack({ ok: true })),
      );
      socket.on('round:evaluation', (_m, ack: (r: unknown) => void) => ack({ ok: true }));
      socket.on(
        'update:begin',
        (m: { round: number }, ack: (r: unknown) => void) => (
          seen.begins.push(m),
          ack({ ok: false, error: { code: 'ROUND_CLOSED', message: 'fuzz server' } })
        ),
      );
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const agent = cohort.agent(fed, 0, { coordinatorUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}` });
    await agent.ready;
    // Round 1 is trained once, genuinely: later tasks for round 1 are duplicates the agent skips, so fuzzing stays fast.
    site!.emit('round:task', task(1));
    await until(() => seen.begins.some((b) => b.round === 1), 30_000, 'the genuine round-1 task to be trained');

    const inputs = fc.sample(
      fc
        .constantFrom(...SERVER_EVENTS)
        .chain((e) =>
          fc.tuple(fc.constant(e), fc.oneof({ weight: 5, arbitrary: mutated(valid[e]) }, { weight: 1, arbitrary: weirdValue })),
        ),
      { seed: FUZZ_SEED, numRuns: runs(400) },
    );
    for (const [event, payload] of inputs) {
      counts[event] = (counts[event] ?? 0) + 1;
      site!.emit(event, payload);
    }
    await new Promise((r) => setTimeout(r, 500));
    site!.emit('round:task', task(2));
    await until(() => seen.begins.some((b) => b.round === 2), 60_000, 'a genuine round-2 task to be trained after the fuzzing');

    expect(agent.socket.connected).toBe(true);
    for (const d of seen.declines) {
      expect(d.code).toMatch(/^[A-Z_]{3,64}$/);
      expect(d.message.length).toBeGreaterThan(0);
    }
    expect(seen.begins.filter((b) => b.round !== 1 && b.round !== 2).length).toBeLessThan(inputs.length / 10);
  });
});
