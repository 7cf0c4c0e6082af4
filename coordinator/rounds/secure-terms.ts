/** The secure-aggregation terms of one round, from the federation's rules: graph, threshold, quantisation range, distributed noise. */
import { parameterCount, type ModelSpec, type SecAggTerms } from '../../protocol/index.js';
import { dp, secagg } from '../../crypto/index.js';
import type { RoundRules } from '../config.js';

/**
 * Terms and configuration for a round. Without DP, each update's distance from the global model is clipped to
 * `rules.secagg.clipNorm` (a quantisation bound) and weighted by its sample count (at most `maxDeclared`). With DP, every
 * weight is 1, each site clips to the DP clip norm C and adds Gaussian noise of std z*C/sqrt(t) itself, so that any t or
 * more survivors' noises sum to at least the central mechanism's z*C (distributed DP); the quantisation range is then
 * widened to hold the noise.
 * @example const { terms, config } = secureTerms({ federation, round, rules, spec, participants, maxDeclared: 600 });
 */
export function secureTerms(args: {
  federation: string;
  round: number;
  rules: RoundRules;
  spec: ModelSpec;
  participants: { id: string; signPublicKey: Uint8Array }[];
  maxDeclared: number;
}): { terms: SecAggTerms; config: secagg.SecAggConfig } {
  const { rules } = args;
  const settings = rules.secagg ?? { graph: 'complete' as const, clipNorm: 100, threshold: undefined, threatModel: undefined };
  const vectorLength = parameterCount(args.spec);
  const graph = settings.graph === 'harary' ? ({ kind: 'harary' } as const) : ({ kind: 'complete' } as const);
  const common = {
    federation: args.federation,
    round: args.round,
    participants: args.participants,
    vectorLength,
    graph,
    thresholdFraction: settings.threshold,
    threatModel: settings.threatModel ?? 'malicious',
  };
  if (!rules.dp) {
    // n * W must stay below 2^32 (the weight entry's sum); larger sites are weighted as if they had W rows.
    const maxWeight = Math.max(1, Math.min(Math.ceil(args.maxDeclared), Math.floor(0xffffffff / args.participants.length), 1_000_000));
    return secagg.termsFor({ ...common, clipNorm: settings.clipNorm, maxWeight });
  }
  const { threshold } = secagg.termsFor({ ...common, clipNorm: rules.dp.clipNorm, maxWeight: 1 }).config;
  // The formula each site recomputes from the signed study terms (node-agent/mods/dp-terms.ts): one function for both.
  const noiseStd = dp.distributedNoiseStd({
    noiseMultiplier: rules.dp.noiseMultiplier,
    clipNorm: rules.dp.clipNorm,
    participants: threshold,
  });
  // ||clip(x) + noise|| <= C + sigma (sqrt(L) + 10) except with negligible probability (the chi distribution's tail).
  const range = rules.dp.clipNorm + noiseStd * (Math.sqrt(vectorLength) + 10);
  return secagg.termsFor({ ...common, clipNorm: range, maxWeight: 1, noiseStd, dpClipNorm: rules.dp.clipNorm });
}
