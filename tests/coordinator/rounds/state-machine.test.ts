/** The round state machine: one table of allowed transitions, checked by one function. */
import { describe, expect, it } from 'vitest';
import {
  ROUND_STATES,
  ROUND_TRANSITIONS,
  assertTransition,
  canTransition,
  isTerminal,
  type RoundState,
} from '../../../coordinator/store/round-states.js';

const allowed: [RoundState, RoundState][] = [
  ['waiting', 'training'],
  ['waiting', 'failed'],
  ['training', 'aggregating'],
  ['training', 'failed'],
  ['aggregating', 'evaluating'],
  ['aggregating', 'failed'],
  ['evaluating', 'published'],
  ['evaluating', 'withheld'],
  ['evaluating', 'failed'],
];

describe('round state machine', () => {
  it.each(allowed)('allows %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(from, to)).not.toThrow();
  });

  it('allows exactly the nine listed transitions', () => {
    const every = ROUND_STATES.flatMap((from) => ROUND_STATES.map((to) => [from, to] as const));

    const legal = every.filter(([from, to]) => canTransition(from, to));

    expect(legal).toEqual(allowed);
    expect(ROUND_TRANSITIONS.size).toBe(9);
  });

  it.each([
    ['waiting', 'published'],
    ['waiting', 'aggregating'],
    ['training', 'waiting'],
    ['published', 'training'],
    ['failed', 'waiting'],
    ['training', 'training'],
    ['aggregating', 'published'],
    ['withheld', 'published'],
  ] as [RoundState, RoundState][])('refuses %s -> %s, naming both states', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, to)).toThrow(`illegal round transition ${from} -> ${to}`);
  });

  it('treats published, withheld and failed as terminal, and nothing leaves them', () => {
    const terminal = ROUND_STATES.filter(isTerminal);

    expect(terminal).toEqual(['published', 'withheld', 'failed']);
    for (const from of terminal) for (const to of ROUND_STATES) expect(canTransition(from, to)).toBe(false);
  });
});
