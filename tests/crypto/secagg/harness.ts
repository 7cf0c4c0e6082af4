/** Test harness for secure aggregation: participants, synthetic updates, plain FedAvg, and a full in-memory run. */
import { createPrng } from '../../../crypto/prng.js';
import { generateIdentity, type Identity } from '../../../crypto/identity.js';
import { clipL2 } from '../../../crypto/dp/clip-noise.js';
import { createSecAggClient, type SecAggClient } from '../../../crypto/secagg/client.js';
import type {
  ConsistencyRequest,
  KeysBroadcast,
  MaskedInput,
  ShareKeys,
  SharesDelivery,
  UnmaskRequest,
  UnmaskResponse,
} from '../../../crypto/secagg/messages.js';
import { createSecAggConfig, type SecAggConfig, type ThreatModel } from '../../../crypto/secagg/protocol.js';
import { createSecAggServer, type SecAggServer, type ServerOutcome } from '../../../crypto/secagg/server.js';
import type { Receipt } from '../../../crypto/secagg/failures.js';
import type { RandomSource } from '../../../crypto/random.js';
import { seededRandom } from '../helpers.js';
import { expect } from 'vitest';
import { averageErrorBound } from '../../../crypto/secagg/ring.js';
import type { SecAggResult } from '../../../crypto/secagg/unmask.js';

export const CLIP_NORM = 1;
export const MAX_WEIGHT = 5000;

/** n identities named p00, p01, ... (sorted order = index order), reproducible from `label`. */
export function makeIdentities(n: number, label: string): Identity[] {
  return Array.from({ length: n }, (_, i) => generateIdentity(`p${String(i).padStart(2, '0')}`, seededRandom(`${label}/identity/${i}`)));
}

/** Updates with norms between 0.2 and 3 (so some are clipped) and integer weights in 1..MAX_WEIGHT. */
export function makeUpdates(n: number, length: number, seed: number): { updates: Float32Array[]; weights: number[] } {
  const prng = createPrng(seed);
  const updates = Array.from({ length: n }, () => {
    const u = new Float32Array(length);
    for (let i = 0; i < length; i++) u[i] = prng.normal();
    const targetNorm = 0.2 + 2.8 * prng.next();
    const norm = Math.hypot(...u);
    for (let i = 0; i < length; i++) u[i] = ((u[i] as number) * targetNorm) / norm;
    return u;
  });
  const weights = Array.from({ length: n }, () => 1 + prng.int(MAX_WEIGHT));
  return { updates, weights };
}

/** Plain FedAvg of the clipped updates in float64: sum w_u clip(x_u) / sum w_u. */
export function plainFedAvg(updates: readonly Float32Array[], weights: readonly number[], clipNorm = CLIP_NORM): Float64Array {
  const out = new Float64Array((updates[0] as Float32Array).length);
  let total = 0;
  updates.forEach((u, k) => {
    const w = weights[k] as number;
    const { clipped } = clipL2(u, clipNorm);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + w * (clipped[i] as number);
    total += w;
  });
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / total;
  return out;
}

export interface RunOptions {
  n: number;
  vectorLength: number;
  label: string;
  graph?: 'complete' | 'harary';
  /** SecAgg+ degree (default secAggPlusDegree(n)). */
  degree?: number;
  threshold?: number;
  /** The default threshold's model (createSecAggConfig's default, 'malicious', when absent). */
  threatModel?: ThreatModel;
  /** Participants who share keys but never send a masked input (dropped after the ShareKeys step). */
  dropBeforeMasking?: readonly string[];
  /** Participants who send masked input but never sign the survivor set (so are not asked to unmask). */
  dropBeforeConsistency?: readonly string[];
  /** Participants who send masked input but never answer the unmask request. */
  dropBeforeUnmask?: readonly string[];
  /** Replace the client of some participants (e.g. a cheating dealer). */
  makeClient?: (args: { config: SecAggConfig; identity: Identity; random: RandomSource }) => SecAggClient | undefined;
  /** Rewrite a participant's message before the server sees it (a cheating participant knows its keys and the config). */
  tamperShareKeys?: (msg: ShareKeys, identity: Identity, config: SecAggConfig) => ShareKeys;
  tamperUnmask?: (msg: UnmaskResponse, identity: Identity, config: SecAggConfig) => UnmaskResponse;
  /** Stop once the server has issued its unmask requests (outcome is then null). */
  stopBeforeUnmask?: boolean;
}

export interface RunResult {
  config: SecAggConfig;
  identities: Identity[];
  clients: Map<string, SecAggClient>;
  server: SecAggServer;
  updates: Float32Array[];
  weights: number[];
  masked: Map<string, MaskedInput>;
  receipts: Receipt[];
  broadcasts: KeysBroadcast[];
  deliveries: SharesDelivery[];
  /** The server's consistency-check requests, when it got that far. */
  consistency: ConsistencyRequest[];
  /** The server's unmask requests, when it got that far. */
  requests: UnmaskRequest[];
  /** The server's outcome at the step that failed, or finish(); null when stopped on purpose before unmasking. */
  outcome: ServerOutcome | null;
  stoppedAt: 'advertise-keys' | 'share-keys' | 'masked-input' | 'consistency-check' | 'unmasking';
}

/** Runs every step in memory, routing messages as a coordinator would; stops at the first server failure. */
export function runProtocol(options: RunOptions): RunResult {
  const identities = makeIdentities(options.n, options.label);
  const config = createSecAggConfig({
    federation: 'cardio',
    round: 7,
    participants: identities.map((id) => ({ id: id.id, signPublicKey: id.signPublicKey })),
    vectorLength: options.vectorLength,
    clipNorm: CLIP_NORM,
    maxWeight: MAX_WEIGHT,
    ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
    ...(options.threatModel === undefined ? {} : { threatModel: options.threatModel }),
    graph:
      options.graph === 'harary'
        ? { kind: 'harary', ...(options.degree === undefined ? {} : { degree: options.degree }) }
        : { kind: 'complete' },
  });
  const server = createSecAggServer(config);
  const clients = new Map<string, SecAggClient>();
  for (const identity of identities) {
    const random = seededRandom(`${options.label}/client/${identity.id}`);
    clients.set(identity.id, options.makeClient?.({ config, identity, random }) ?? createSecAggClient({ config, identity, random }));
  }
  const byId = new Map(identities.map((i) => [i.id, i]));
  const { updates, weights } = makeUpdates(options.n, options.vectorLength, 42);
  const receipts: Receipt[] = [];
  const masked = new Map<string, MaskedInput>();
  const requests: UnmaskRequest[] = [];
  const consistency: ConsistencyRequest[] = [];
  const broadcasts: KeysBroadcast[] = [];
  const deliveries: SharesDelivery[] = [];
  const base = { config, identities, clients, server, updates, weights, masked, receipts, consistency, requests, broadcasts, deliveries };
  const must = <T>(r: { ok: true; message: T } | { ok: false; failure: unknown }): T => {
    if (!r.ok) throw new Error(`client step failed: ${JSON.stringify(r.failure)}`);
    return r.message;
  };

  for (const client of clients.values()) receipts.push(server.receiveAdvertiseKeys(must(client.advertiseKeys())));
  const keys = server.closeAdvertiseKeys();
  if (!keys.ok) return { ...base, outcome: keys, stoppedAt: 'advertise-keys' };
  broadcasts.push(...keys.messages);
  for (const msg of keys.messages) {
    let share = must((clients.get(msg.to) as SecAggClient).shareKeys(msg));
    if (options.tamperShareKeys) share = options.tamperShareKeys(share, byId.get(msg.to) as Identity, config);
    receipts.push(server.receiveShareKeys(share));
  }
  const delivered = server.closeShareKeys();
  if (!delivered.ok) return { ...base, outcome: delivered, stoppedAt: 'share-keys' };
  deliveries.push(...delivered.messages);
  for (const msg of deliveries) {
    if (options.dropBeforeMasking?.includes(msg.to)) continue;
    const index = identities.findIndex((i) => i.id === msg.to);
    const input = must(
      (clients.get(msg.to) as SecAggClient).maskedInput(msg, { update: updates[index] as Float32Array, weight: weights[index] as number }),
    );
    masked.set(msg.to, input);
    receipts.push(server.receiveMaskedInput(input));
  }
  const closed = server.closeMaskedInput();
  if (!closed.ok) return { ...base, outcome: closed, stoppedAt: 'masked-input' };
  consistency.push(...closed.messages);
  for (const msg of consistency) {
    if (options.dropBeforeConsistency?.includes(msg.to)) continue;
    receipts.push(server.receiveConsistency(must((clients.get(msg.to) as SecAggClient).signSurvivors(msg))));
  }
  const checked = server.closeConsistency();
  if (!checked.ok) return { ...base, outcome: checked, stoppedAt: 'consistency-check' };
  requests.push(...checked.messages);
  if (options.stopBeforeUnmask) return { ...base, outcome: null, stoppedAt: 'unmasking' };
  for (const msg of requests) {
    if (options.dropBeforeUnmask?.includes(msg.to)) continue;
    let response = must((clients.get(msg.to) as SecAggClient).unmask(msg));
    if (options.tamperUnmask) response = options.tamperUnmask(response, byId.get(msg.to) as Identity, config);
    receipts.push(server.receiveUnmask(response));
  }
  return { ...base, outcome: server.finish(), stoppedAt: 'unmasking' };
}

/**
 * What a (possibly dishonest) server does to get shares revealed: tells `askers` the survivor set `survivors`, collects
 * their signatures, and sends each an unmask request with them; returns the responses of those that answered.
 */
export function consistencyRound(
  config: SecAggConfig,
  clients: ReadonlyMap<string, SecAggClient>,
  askers: readonly string[],
  survivors: readonly string[],
  dropped: readonly string[] = [],
): UnmaskResponse[] {
  const signatures = askers.flatMap((to) => {
    const signed = (clients.get(to) as SecAggClient).signSurvivors({ type: 'secagg/consistency-request', to, survivors: [...survivors] });
    return signed.ok ? [{ from: to, signature: signed.message.signature }] : [];
  });
  return askers.flatMap((to) => {
    const answer = (clients.get(to) as SecAggClient).unmask({
      type: 'secagg/unmask-request',
      to,
      survivors: [...survivors],
      dropped: [...dropped],
      signatures,
    });
    return answer.ok ? [answer.message] : [];
  });
}

/** Largest absolute difference between two vectors. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

/** Asserts the round succeeded and that its average is plain FedAvg of the non-dropped participants within the quantisation bound. */
export function expectSurvivorAverage(run: RunResult, dropped: readonly string[]): SecAggResult {
  expect(run.outcome?.ok, JSON.stringify(run.outcome && !run.outcome.ok ? run.outcome.failure : null)).toBe(true);
  const result = (run.outcome as { ok: true; result: SecAggResult }).result;
  const survivors = run.identities
    .map((id, i) => [id.id, i] as const)
    .filter(([id]) => !dropped.includes(id))
    .map(([, i]) => i);
  const want = plainFedAvg(
    survivors.map((i) => run.updates[i] as Float32Array),
    survivors.map((i) => run.weights[i] as number),
  );
  const bound = averageErrorBound({ params: run.config.quantisation, participants: survivors.length, weightSum: result.weightSum });
  expect(result.weightSum).toBe(survivors.reduce((a, i) => a + (run.weights[i] as number), 0));
  expect(maxAbsDiff(result.average as Float32Array, want)).toBeLessThanOrEqual(bound + 2 ** -24);
  return result;
}
