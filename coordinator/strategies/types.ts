/** The shape every aggregation strategy has: begin a round, add updates as they arrive, read the result. */
import type { TrainConfig } from '../../protocol/messages.js';

/** A round's aggregate. Streaming strategies hold one model; buffered (robust) ones hold every update, within a byte budget. */
export interface Accumulator {
  /** Folds one update in; `tensors` are read during the call and never kept (buffered strategies copy them). */
  add(tensors: Float32Array[], weight: number): void;
  /** Number of updates added so far. */
  readonly count: number;
  /** Sum of the weights added so far. */
  readonly totalWeight: number;
  /** The aggregate, or null when nothing was added (keep the previous model). */
  result(): Float32Array[] | null;
  /**
   * Frees what the round holds outside the heap (a buffered strategy's spill file). Idempotent, and
   * called by `result()` itself; the runner calls it when a round ends without `result()` (failed rounds).
   */
  dispose?(): void;
}

/** Settings a strategy needs the agents to use; merged into each round's TrainConfig (FedProx's proximal term). */
export type StrategyTrainConfig = Pick<TrainConfig, 'proximalMu'>;

/**
 * An aggregation rule over flat Float32 tensors. Pure maths, no TensorFlow.js. One object is created
 * per federation (`createStrategy`), so a server optimizer's state (momentum, Adam's moments) lives in
 * it from round to round, in memory only.
 */
export interface Strategy {
  readonly name: string;
  /** The parameters in force, defaults filled in (for logs, audit and reports). */
  readonly params: Readonly<Record<string, number | string>>;
  /** What the agents must add to their training configuration, when anything. */
  readonly trainConfig?: StrategyTrainConfig;
  /**
   * Starts a round's aggregate. `shapes` are the tensor shapes of the model (their products are
   * the flat sizes every update must match); `previous` is the current global model.
   */
  begin(shapes: number[][], previous: Float32Array[]): Accumulator;
}
