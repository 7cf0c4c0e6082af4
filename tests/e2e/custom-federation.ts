/** startFederation with one-round defaults and the coordinator options the security and fuzz suites set (TLS, rate limits). */
import type { CoordinatorOptions, FederationSetupInput } from '../../coordinator/index.js';
import { permissivePolicy, startFederation, type Federation } from './helpers.js';

export interface CustomFederationOptions {
  rules?: Partial<FederationSetupInput['rules']>;
  rowsPerSite?: number;
  tls?: CoordinatorOptions['tls'];
  limits?: CoordinatorOptions['limits'];
}

/**
 * A coordinator for `n` MNIST sites (logreg, permissive policy, federation `e2e`, one round that starts when all are
 * online), agents started separately.
 * @example const fed = await startCustomFederation(2, { tls: { cert, key } }); startAgent(fed, 0, { socketOptions })
 */
export function startCustomFederation(n: number, o: CustomFederationOptions = {}): Promise<Federation> {
  const rules = {
    rounds: 1,
    minParticipants: n,
    joinGraceMs: 10_000,
    train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
    ...o.rules,
  };
  return startFederation(n, rules, 'logreg', o.rowsPerSite ?? 120, permissivePolicy, {
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
  });
}
