/** The round lifecycle's public surface: the runner, its state machine, participant selection, model signing and update intake. */
export { RoundRunner, type Outbox, type RunnerDeps, type RunnerEventMap } from './round-runner.js';
export { ROUND_STATES, ROUND_TRANSITIONS, assertTransition, canTransition, isTerminal, type RoundState } from '../store/round-states.js';
export { selectEligible, selectParticipants, type Eligibility, type Exclusion } from './selection.js';
export { encodeAndSign, specHash, toSignedModel, type EncodedModel } from './model-signing.js';
export { ModelRegistry, type CurrentModel } from './model-registry.js';
export { intakeUpdate, type IntakeContext } from './update-intake.js';
