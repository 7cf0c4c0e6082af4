/** The terms every task (training or evaluation) states, for the agent to check against its own consent. */
import type { Federation } from '../store/index.js';
import type { CurrentModel } from './model-registry.js';

/**
 * What every task states, for the agent to check against its own consent.
 * @example const task: EvaluateTask = { ...taskTerms(federation, 3, deadline, 4, candidate), use: 'evaluation' }
 */
export function taskTerms(federation: Federation, round: number, deadline: number, participants: number, model: CurrentModel) {
  const { manifest, policyHash } = federation;
  return {
    federation: federation.id,
    round,
    deadline,
    study: manifest,
    participants,
    privacy: manifest.privacy,
    policyHash,
    model: model.signed,
  };
}
