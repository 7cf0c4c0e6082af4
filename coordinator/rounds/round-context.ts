/** The state of the round in progress, and the part of the runner its helpers (intake, secure driving, start, publication) work through. */
import type { EventEmitter } from 'node:events';
import type { EvaluationReport, ModelSpec, Ready, RoundTask } from '../../protocol/index.js';
import type { Accumulator } from '../strategies/index.js';
import type { ConsentRegistry, RuleDecision } from '../policy/index.js';
import type { RoundState } from '../store/round-states.js';
import type { SecureRound } from './secure-round.js';
import type { ClipNorm } from './clip-norm.js';
import type { UpdateBound } from './update-bound.js';
import type { CurrentModel, ModelRegistry } from './model-registry.js';
import type { MetricSums } from './metrics.js';
import type { RunnerDeps, RunnerEventMap } from './runner-types.js';

/** The round in progress, from `waiting` until it is published, withheld or failed. */
export interface ActiveRound {
  round: number;
  state: RoundState;
  /** The training task, sent again to a pending participant that reconnects (its first copy may have died with the connection). */
  task?: RoundTask;
  baseVersion: number;
  selected: Set<string>;
  pending: Set<string>;
  /** Rows each participant declared (agent:ready) when it was selected: the most its update may claim. */
  declared: Map<string, number>;
  accepted: { institution: string; samples: number }[];
  accumulator?: Accumulator;
  /** The DP clip norm this round's aggregate was made with (recorded in its metrics). */
  clipUsed?: number;
  /** The bound on update norms this round applied, and the median of its accepted norms (recorded in its metrics). */
  normsUsed?: { updateNormBound: number; updateNormMedian?: number };
  /** Secure aggregation's state when the round runs it: the coordinator then never sees an individual update. */
  secure?: SecureRound;
  metrics: MetricSums;
  decisions: RuleDecision[];
  candidate?: CurrentModel;
  evaluating: Set<string>;
  siteMetrics: Map<string, EvaluationReport>;
  timer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
  /** Why the round last could not start (to report each new reason once). */
  blockedWhy?: string;
  /** That reason in words (what the round record, the console and the wait timeout's failure say). */
  blockedReason?: string;
}

/**
 * What the runner lends the modules that carry out a round's steps: its dependencies and live state, and the steps
 * that stay with the runner because they end or advance the round. The runner builds one and owns it.
 */
export interface RoundContext {
  readonly deps: RunnerDeps;
  /** The federation's id. */
  readonly fed: string;
  /** The spec models are made with (set once, when version 0 gets its normalisation). */
  spec: ModelSpec;
  readonly active: ActiveRound | undefined;
  /** Agents that are connected and ready, by institution. */
  readonly online: ReadonlyMap<string, Ready>;
  readonly models: ModelRegistry;
  readonly clip: ClipNorm;
  /** The bound on each plain update's distance from the global model. */
  readonly bound: UpdateBound;
  readonly consents: ConsentRegistry;
  /** The runner itself, to announce what happened. */
  readonly events: EventEmitter<RunnerEventMap>;
  audit(kind: string, data: Record<string, unknown>, actor?: string): void;
  /** Persists a state change (checked against the transition table) together with `also`, atomically. */
  transition(a: ActiveRound, to: RoundState, also: () => void): void;
  failRound(reason: string): void;
  /** Drops a participant that is out of time (DEADLINE_PASSED). */
  drop(a: ActiveRound, institution: string, reason: string): void;
  /** Closes training once nobody is pending. */
  maybeClose(): void;
  /** The round's deadline passed (the timer's callback). */
  onDeadline(): void;
  /** Decides on the candidate once no evaluation is pending. */
  maybeDecide(): void;
  /** Stops the round's deadline and join-grace timers. */
  clearTimers(): void;
}
