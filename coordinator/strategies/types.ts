/** The shape every aggregation strategy has: begin a round, add updates as they arrive, read the result. */

/** A round's running aggregate. Holds memory for one model, whatever the number of updates. */
export interface Accumulator {
  /** Folds one update in; `tensors` are read during the call and never kept. */
  add(tensors: Float32Array[], weight: number): void;
  /** Number of updates added so far. */
  readonly count: number;
  /** Sum of the weights added so far. */
  readonly totalWeight: number;
  /** The aggregate, or null when nothing was added (keep the previous model). */
  result(): Float32Array[] | null;
}

/** An aggregation rule over flat Float32 tensors. Pure maths: no I/O, no TensorFlow.js. */
export interface Strategy {
  readonly name: string;
  /**
   * Starts a round's aggregate. `shapes` are the tensor shapes of the model (their products are
   * the flat sizes every update must match); `previous` is the current global model.
   */
  begin(shapes: number[][], previous: Float32Array[]): Accumulator;
}
