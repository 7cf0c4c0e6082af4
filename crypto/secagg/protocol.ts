/**
 * Secure aggregation (Bonawitz et al. CCS 2017; SecAgg+ neighbourhoods of Bell et al. CCS 2020): the round's public
 * configuration, its validation, and the session facts both sides derive from it (graph, indices, context digest).
 * Message types are in messages.ts, the client in client.ts, the server in server.ts.
 */
import { concatBytes, lengthPrefixed, u32le, utf8Encode } from '../bytes.js';
import { sha256 } from '../hash.js';
import { assertBytes, assertId, assertU32 } from '../validate.js';
import { buildGraph, secAggPlusDegree, type CommunicationGraph } from './graph.js';
import { graphSeed } from './graph-seed.js';
import { quantisationParams, type QuantisationParams } from './ring.js';

export interface SecAggParticipant {
  id: string;
  /** Ed25519 public key (32 bytes) of the participant's identity: signs its SecAgg messages. */
  signPublicKey: Uint8Array;
}

/**
 * Who shares keys and masks with whom: everyone, or SecAgg+'s Harary graph of the given even degree, whose seed is
 * derived from the round's key advertisements (graph-seed.ts) once round 0 closes.
 */
export type RoundGraph = { kind: 'complete' } | { kind: 'harary'; degree: number };

/** Everything public about one round of secure aggregation; the coordinator and every participant must hold the same. */
export interface SecAggConfig {
  federation: string;
  round: number;
  /** Sorted by id, unique. A participant's index (its order for the mask signs) is its position here. */
  participants: readonly SecAggParticipant[];
  /** t: shares needed to reconstruct a secret; also the fewest participants allowed at any step. */
  threshold: number;
  graph: RoundGraph;
  /** L: number of model parameters; encoded vectors have L + 1 entries (the last is the weight). */
  vectorLength: number;
  quantisation: QuantisationParams;
}

/**
 * Whom the threshold must resist. 'malicious' (default): an active coordinator colluding with fewer than a third of the
 * share holders; t > 2h/3 (Bonawitz et al. 2017, section 6). 'semi-honest': a coordinator that follows the protocol;
 * the smallest majority t > h/2, which tolerates the most dropouts.
 */
export type ThreatModel = 'malicious' | 'semi-honest';

/**
 * The smallest threshold a threat model allows for h share holders per participant.
 * @example minimumThreshold(10, 'malicious') // 7; minimumThreshold(10, 'semi-honest') // 6
 */
export function minimumThreshold(holders: number, model: ThreatModel): number {
  if (!Number.isInteger(holders) || holders < 1) throw new RangeError(`holders must be a positive integer, got ${holders}`);
  if (model !== 'malicious' && model !== 'semi-honest') throw new TypeError(`unknown threat model ${String(model)}`);
  return Math.min(holders, model === 'malicious' ? Math.floor((2 * holders) / 3) + 1 : Math.floor(holders / 2) + 1);
}

/** Derived facts shared by client and server (internal). */
export interface SecAggSession {
  config: SecAggConfig;
  /** The complete graph at once; a Harary graph only after deriveGraph (round 0's advertisements), before that it throws. */
  graph: CommunicationGraph;
  /** The Harary graph's seed once derived; null for the complete graph or before round 0 closes. */
  graphSeed: Uint8Array | null;
  indexOf: ReadonlyMap<string, number>;
  /** SHA-256 of the whole configuration: bound into every signature, key derivation and commitment. */
  context: Uint8Array;
  /** Largest number of share holders of one participant: n (complete graph) or degree + 1. */
  maxHolders: number;
}

const CONTEXT_PREFIX = utf8Encode('cohort/secagg/context/v1');

function f64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value, true);
  return out;
}

function graphBytes(spec: RoundGraph): Uint8Array {
  return spec.kind === 'complete' ? lengthPrefixed('complete') : concatBytes(lengthPrefixed('harary-derived-seed'), u32le(spec.degree));
}

/** Stands for a Harary graph until round 0 closes: any use before deriveGraph is a programming error. */
const UNDERIVED: CommunicationGraph = {
  size: 0,
  neighbours: () => {
    throw new Error('the SecAgg+ graph is derived from the key advertisements: round 0 has not closed');
  },
  areNeighbours: () => {
    throw new Error('the SecAgg+ graph is derived from the key advertisements: round 0 has not closed');
  },
};

/**
 * Fixes the session's Harary graph from round 0's advertisers (U1, verified by the caller); a no-op for the complete graph.
 * @example deriveGraph(session, [...advertisements]); session.graph.neighbours(me)
 */
export function deriveGraph(
  session: SecAggSession,
  advertisers: readonly { from: string; cPublicKey: Uint8Array; sPublicKey: Uint8Array }[],
): void {
  const spec = session.config.graph;
  if (spec.kind === 'complete') return;
  const seed = graphSeed(session.context, advertisers);
  session.graph = buildGraph(session.config.participants.length, { kind: 'harary', degree: spec.degree, seed });
  session.graphSeed = seed;
}

/**
 * A validated configuration. Defaults: complete graph; threshold = minimumThreshold(maxHolders, threatModel), with the
 * threat model 'malicious' (t = floor(2h/3) + 1) unless 'semi-honest' is asked for (t = floor(h/2) + 1). For SecAgg+ pass
 * graph: { kind: 'harary', degree? } (degree defaults to secAggPlusDegree(n)); its seed is derived from round 0 (deriveGraph).
 * @example const config = createSecAggConfig({ federation: 'cardio', round: 3, participants, vectorLength: 199210, clipNorm: 1, maxWeight: 10000 });
 */
export function createSecAggConfig(args: {
  federation: string;
  round: number;
  participants: readonly SecAggParticipant[];
  vectorLength: number;
  clipNorm: number;
  maxWeight: number;
  threshold?: number;
  threatModel?: ThreatModel;
  graph?: { kind: 'complete' } | { kind: 'harary'; degree?: number };
}): SecAggConfig {
  // Copy only the public fields: callers may pass full identities, whose secret keys must not travel in a config.
  const participants = args.participants
    .map((p) => ({ id: p.id, signPublicKey: p.signPublicKey }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = participants.length;
  const g = args.graph ?? { kind: 'complete' };
  const graph: RoundGraph = g.kind === 'complete' ? { kind: 'complete' } : { kind: 'harary', degree: g.degree ?? secAggPlusDegree(n) };
  const maxHolders = holdersBound(n, graph);
  const config: SecAggConfig = {
    federation: args.federation,
    round: args.round,
    participants,
    threshold: args.threshold ?? minimumThreshold(maxHolders, args.threatModel ?? 'malicious'),
    graph,
    vectorLength: args.vectorLength,
    quantisation: quantisationParams({ clipNorm: args.clipNorm, maxWeight: args.maxWeight, maxParticipants: n }),
  };
  openSession(config);
  return config;
}

function holdersBound(n: number, graph: RoundGraph): number {
  return graph.kind === 'complete' || graph.degree >= n - 1 ? n : graph.degree + 1;
}

/**
 * Checks a configuration and derives the session facts; throws a TypeError/RangeError on a bad configuration.
 * Rules: 2 <= n; ids unique and sorted; at most 255 share holders per participant (GF(2^8) share indices);
 * threshold t with 2 <= t <= maxHolders and 2t > maxHolders (a majority: a coordinator that tells different participants
 * different survivor sets cannot collect t self-mask shares AND t key shares of one participant from disjoint honest groups;
 * with c colluding participants it needs 2t > maxHolders + c, hence the malicious default t > 2h/3, see minimumThreshold).
 */
export function openSession(config: SecAggConfig): SecAggSession {
  assertId('federation', config.federation);
  assertU32('round', config.round);
  const n = config.participants.length;
  if (n < 2) throw new RangeError(`secure aggregation needs at least 2 participants, got ${n}`);
  const indexOf = new Map<string, number>();
  config.participants.forEach((p, i) => {
    assertId(`participant ${i} id`, p.id);
    assertBytes(`participant ${p.id} signPublicKey`, p.signPublicKey, 32);
    if (indexOf.has(p.id)) throw new RangeError(`duplicate participant ${p.id}`);
    if (i > 0 && !((config.participants[i - 1] as SecAggParticipant).id < p.id)) throw new RangeError('participants must be sorted by id');
    indexOf.set(p.id, i);
  });
  const spec = config.graph;
  if (spec.kind === 'harary') {
    // Checked now with a placeholder seed (the degree rules do not depend on it); the real graph comes with round 0.
    buildGraph(n, { kind: 'harary', degree: spec.degree, seed: new Uint8Array(32) });
  } else if (spec.kind !== 'complete') throw new TypeError(`unknown graph kind ${String((spec as { kind: unknown }).kind)}`);
  const graph = spec.kind === 'complete' || spec.degree >= n - 1 ? buildGraph(n, { kind: 'complete' }) : UNDERIVED;
  const maxHolders = holdersBound(n, config.graph);
  if (maxHolders > 255)
    throw new RangeError(`at most 255 share holders per participant (GF(2^8) shares), got ${maxHolders}: use a harary graph`);
  const t = config.threshold;
  if (!Number.isInteger(t) || t < 2 || t > maxHolders) throw new RangeError(`threshold must be an integer in 2..${maxHolders}, got ${t}`);
  if (2 * t <= maxHolders)
    throw new RangeError(`threshold ${t} must be a majority of the ${maxHolders} share holders (2t > ${maxHolders})`);
  if (!Number.isInteger(config.vectorLength) || config.vectorLength < 1)
    throw new RangeError(`vectorLength must be a positive integer, got ${config.vectorLength}`);
  const q = config.quantisation;
  if (q.maxParticipants < n)
    throw new RangeError(`quantisation.maxParticipants ${q.maxParticipants} < ${n} participants: the sum could overflow`);
  const context = sha256([
    CONTEXT_PREFIX,
    lengthPrefixed(config.federation),
    u32le(config.round),
    u32le(n),
    ...config.participants.flatMap((p) => [lengthPrefixed(p.id), p.signPublicKey]),
    u32le(t),
    graphBytes(config.graph),
    u32le(config.vectorLength),
    f64(q.clipNorm),
    f64(q.maxWeight),
    f64(q.maxParticipants),
    f64(q.scale),
  ]);
  return { config, graph, graphSeed: null, indexOf, context, maxHolders };
}

/**
 * Share holders of `dealer` among the participants in `present` (who advertised keys): the dealer and its neighbours,
 * sorted by index. A holder's share index (x) is its position + 1.
 */
export function holdersOf(session: SecAggSession, dealer: number, present: ReadonlySet<number>): number[] {
  return [dealer, ...session.graph.neighbours(dealer)].filter((i) => present.has(i)).sort((a, b) => a - b);
}

/** +1 when participant `self` adds the pairwise mask shared with `other`, -1 when it subtracts it. */
export function maskSign(self: number, other: number): 1 | -1 {
  return self < other ? 1 : -1;
}
