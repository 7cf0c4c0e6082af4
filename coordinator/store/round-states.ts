/** A round's persisted lifecycle: its states and the one table of allowed transitions, which the store checks every change against. */

/** Every state a round can be in, in lifecycle order. */
export const ROUND_STATES = ['waiting', 'training', 'aggregating', 'evaluating', 'published', 'withheld', 'failed'] as const;
export type RoundState = (typeof ROUND_STATES)[number];

/** The allowed `from->to` state changes of a round; nothing else is legal. */
export const ROUND_TRANSITIONS: ReadonlySet<`${RoundState}->${RoundState}`> = new Set([
  'waiting->training',
  'waiting->failed',
  'training->aggregating',
  'training->failed',
  'aggregating->evaluating',
  'aggregating->failed',
  'evaluating->published',
  'evaluating->withheld',
  'evaluating->failed',
] as const);

const TERMINAL: ReadonlySet<RoundState> = new Set<RoundState>(['published', 'withheld', 'failed']);

/**
 * Whether a round may move from `from` to `to`.
 * @example canTransition('training', 'aggregating') // true
 */
export function canTransition(from: RoundState, to: RoundState): boolean {
  return ROUND_TRANSITIONS.has(`${from}->${to}`);
}

/**
 * Throws unless the round may move from `from` to `to`.
 * @example assertTransition('published', 'training') // throws: illegal round transition published -> training
 */
export function assertTransition(from: RoundState, to: RoundState): void {
  if (!canTransition(from, to)) {
    throw new Error(`illegal round transition ${from} -> ${to}`);
  }
}

/**
 * Whether a round in `state` is closed for good (published, withheld by the policy, or failed).
 * @example isTerminal('failed') // true
 */
export function isTerminal(state: RoundState): boolean {
  return TERMINAL.has(state);
}
