/** The round's secure-aggregation terms as a task carries them, and the configuration both sides derive from them. */
import type { SecAggTerms } from '../../protocol/secagg-wire.js';
import { fromBase64, toBase64 } from '../bytes.js';
import { createSecAggConfig, openSession, type SecAggConfig, type ThreatModel } from './protocol.js';

/**
 * The configuration every participant and the coordinator derive from a task's terms: same bytes, same context digest,
 * so a participant told different terms than the others fails at the first signature check.
 * @example const config = configFromTerms(task.secagg, { federation: task.federation, round: task.round, vectorLength: 199210 });
 */
export function configFromTerms(terms: SecAggTerms, ctx: { federation: string; round: number; vectorLength: number }): SecAggConfig {
  return createSecAggConfig({
    federation: ctx.federation,
    round: ctx.round,
    participants: terms.participants.map((p) => ({ id: p.id, signPublicKey: fromBase64(p.signPublicKey) })),
    vectorLength: ctx.vectorLength,
    clipNorm: terms.clipNorm,
    maxWeight: terms.maxWeight,
    threshold: terms.threshold,
    graph: terms.graph.kind === 'complete' ? { kind: 'complete' } : { kind: 'harary', degree: terms.graph.degree },
  });
}

/**
 * Terms for a round: the threshold is `thresholdFraction` of each participant's share holders (rounded up), never
 * below the threat model's minimum (minimumThreshold; 'malicious' unless told otherwise); without a fraction, that minimum.
 * @example const terms = termsFor({ federation, round, participants, vectorLength, clipNorm: 100, maxWeight: 600, graph: { kind: 'complete' } });
 */
export function termsFor(args: {
  federation: string;
  round: number;
  participants: readonly { id: string; signPublicKey: Uint8Array }[];
  vectorLength: number;
  clipNorm: number;
  maxWeight: number;
  graph: { kind: 'complete' } | { kind: 'harary' };
  thresholdFraction?: number;
  threatModel?: ThreatModel;
  noiseStd?: number;
  dpClipNorm?: number;
}): { terms: SecAggTerms; config: SecAggConfig } {
  const base = createSecAggConfig({ ...args, threshold: undefined, threatModel: args.threatModel ?? 'malicious' });
  const holders = openSession(base).maxHolders;
  const threshold =
    args.thresholdFraction === undefined
      ? base.threshold
      : Math.min(holders, Math.max(base.threshold, Math.ceil(args.thresholdFraction * holders)));
  const config: SecAggConfig = { ...base, threshold };
  openSession(config);
  const graph =
    config.graph.kind === 'complete' ? ({ kind: 'complete' } as const) : ({ kind: 'harary', degree: config.graph.degree } as const);
  const terms: SecAggTerms = {
    participants: config.participants.map((p) => ({ id: p.id, signPublicKey: toBase64(p.signPublicKey) })),
    threshold,
    graph,
    clipNorm: args.clipNorm,
    maxWeight: args.maxWeight,
    ...(args.noiseStd !== undefined ? { noiseStd: args.noiseStd } : {}),
    ...(args.dpClipNorm !== undefined ? { dpClipNorm: args.dpClipNorm } : {}),
  };
  return { terms, config };
}
