/** The round in progress as one type per state, and the part of the runner its steps (intake, secure driving, start, publication) work through. */
import type { EventEmitter } from 'node:events';
import type { EvaluationReport, ModelSpec, Ready, RoundTask } from '../../protocol/index.js';
import type { Accumulator } from '../strategies/index.js';
import type { ConsentRegistry, RuleDecision } from '../policy/index.js';
import type { SecureRound } from './secure-round.js';
import type { ClipNorm } from './clip-norm.js';
import type { UpdateBound } from './update-bound.js';
import type { CurrentModel, ModelRegistry } from './model-registry.js';
import type { MetricSums } from './metrics.js';
import type { RunnerDeps, RunnerEventMap } from './runner-types.js';

/** Waiting for enough eligible institutions to come forward; nobody is selected yet. */
export interface WaitingRound {
  state: 'waiting';
  round: number;
  /** The wait deadline: the round fails when too few came forward by then. */
  timer?: NodeJS.Timeout;
  /** Enough are online but not every enrolled institution: the round starts when this runs out. */
  graceTimer?: NodeJS.Timeout;
  /** Why the round last could not start (to report each new reason once). */
  blockedWhy?: string;
  /** That reason in words (what the round record, the console and the wait timeout's failure say). */
  blockedReason?: string;
}

/** What a round holds from the moment it selected its participants until it closes. */
interface SelectedRound {
  round: number;
  /** The model this round distributed (the global model while the round is open). */
  base: CurrentModel;
  selected: ReadonlySet<string>;
  /** Rows each participant declared (agent:ready) when it was selected: the most its update may claim. */
  declared: ReadonlyMap<string, number>;
  accepted: { institution: string; samples: number }[];
  /** The strategy's running aggregate (under secure aggregation it receives the unmasked average once). */
  accumulator: Accumulator;
  /** Secure aggregation's state when the round runs it: the coordinator then never sees an individual update. */
  secure?: SecureRound;
  metrics: MetricSums;
  /** The selection decisions the round started with. */
  decisions: RuleDecision[];
  /** This state's deadline. */
  timer?: NodeJS.Timeout;
}

/** The selected sites train; their updates are checked and folded into the aggregate. */
export interface TrainingRound extends SelectedRound {
  state: 'training';
  /** The training task, sent again to a pending participant that reconnects (its first copy may have died with the connection). */
  task?: RoundTask;
  /** Selected sites that have neither reported, declined nor been dropped. */
  pending: Set<string>;
}

/** Training closed: the aggregate is being made (under secure aggregation, the survivors are unmasking it). */
export interface AggregatingRound extends SelectedRound {
  state: 'aggregating';
}

/** The candidate exists; the contributors evaluate it on their own validation rows before the policy decides. */
export interface EvaluatingRound extends SelectedRound {
  state: 'evaluating';
  candidate: CurrentModel;
  /** The DP clip norm this round's aggregate was made with (recorded in its metrics). */
  clipUsed: number;
  /** The bound on update norms this round applied, and the median of its accepted norms (recorded in its metrics). */
  normsUsed?: { updateNormBound: number; updateNormMedian?: number };
  evaluating: Set<string>;
  siteMetrics: Map<string, EvaluationReport>;
}

/** The round in progress, from `waiting` until it is published, withheld or failed (then there is none). */
export type ActiveRound = WaitingRound | TrainingRound | AggregatingRound | EvaluatingRound;

/** What a step leaves to the runner: nothing, or to fail the round with a reason. */
export type StepOutcome = { ok: true } | { ok: false; reason: string };

/** The step went on as planned. */
export const proceed: StepOutcome = { ok: true };

/**
 * The round cannot go on: the runner fails it with `reason`.
 * @example if (!result) return failWith('the strategy produced no model')
 */
export const failWith = (reason: string): StepOutcome => ({ ok: false, reason });

/**
 * What the runner lends the modules that carry out a round's steps: its dependencies and live state, and the steps
 * that stay with the runner because they end or advance the round. The runner builds one and owns it.
 */
export interface RoundContext {
  readonly deps: RunnerDeps;
  readonly federationId: string;
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
  /**
   * Moves the round from `from` to the state `next` describes: checked against the transition table, persisted
   * together with `also` atomically, `from`'s timers stopped; `next` is the round in progress from then on.
   */
  enter<S extends TrainingRound | AggregatingRound | EvaluatingRound>(from: ActiveRound, next: S, also: () => void): S;
  /** Drops a participant that is out of time (DEADLINE_PASSED). */
  drop(training: TrainingRound, institution: string, reason: string): void;
  /** Closes training once nobody is pending. */
  maybeClose(): void;
  /** The round's deadline passed (the timer's callback). */
  onDeadline(): void;
  /** Decides on the candidate once no evaluation is pending. */
  maybeDecide(): void;
  /** Hands the runner a step's outcome from a callback (secure aggregation's end): a failure fails the round. */
  settle(outcome: StepOutcome): void;
}
