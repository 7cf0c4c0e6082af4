/**
 * Who shares keys and masks with whom. 'complete': everyone (Bonawitz et al. 2017). 'harary': SecAgg+ (Bell et al. 2020),
 * a Harary graph H(k, n) (node at position p linked to positions p +- 1..k/2 mod n) whose labels are permuted by a
 * public seed, so each participant has k = O(log n) neighbours and the server cannot choose who neighbours whom.
 */
import { assertBytes } from '../validate.js';
import { expandMask } from './prg.js';

export type GraphSpec = { kind: 'complete' } | { kind: 'harary'; degree: number; seed: Uint8Array };

export interface CommunicationGraph {
  readonly size: number;
  /** Neighbours of participant i (0-based), sorted ascending, never including i. */
  neighbours(i: number): readonly number[];
  areNeighbours(i: number, j: number): boolean;
}

/**
 * An even degree of about 2 log2(n), capped at n - 1 (then the graph is complete): the choice used in the tests.
 * Bell et al. derive k from the tolerated corruption and dropout rates; this is a practical default, not their bound.
 * @example secAggPlusDegree(30) // 10
 */
export function secAggPlusDegree(n: number): number {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${n}`);
  return Math.min(2 * Math.ceil(Math.log2(n)), n - 1);
}

/** A uniformly random permutation of 0..n-1 from a public seed (Fisher-Yates, rejection sampling for uniform indices). */
function seededPermutation(n: number, seed: Uint8Array): number[] {
  const perm = Array.from({ length: n }, (_, i) => i);
  // The seed is already specific to the round; the PRG context only separates this use from the masks.
  const context = { kind: 'graph', federation: 'secagg-graph', round: 0 } as const;
  let words = expandMask(seed, 2 * n + 64, context);
  let next = 0;
  const word = (): number => {
    if (next === words.length) words = expandMask(seed, 2 * words.length, context); // same stream, longer: continue at `next`
    return words[next++] as number;
  };
  for (let i = n - 1; i > 0; i--) {
    const range = i + 1;
    const limit = Math.floor(4294967296 / range) * range;
    let r = word();
    while (r >= limit) r = word();
    const j = r % range;
    const tmp = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = tmp;
  }
  return perm;
}

function completeGraph(n: number): CommunicationGraph {
  const lists = Array.from({ length: n }, (_, i) => Object.freeze(Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)));
  return { size: n, neighbours: (i) => lists[i] ?? [], areNeighbours: (i, j) => i !== j && i >= 0 && j >= 0 && i < n && j < n };
}

/**
 * The graph for n participants (0-based indices), deterministic from the spec.
 * @example buildGraph(30, { kind: 'harary', degree: 10, seed }).neighbours(0) // 10 indices
 */
export function buildGraph(n: number, spec: GraphSpec): CommunicationGraph {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (spec.kind === 'complete') return completeGraph(n);
  if (spec.kind !== 'harary') throw new TypeError(`unknown graph kind ${String((spec as { kind: unknown }).kind)}`);
  assertBytes('graph seed', spec.seed, 32);
  const k = spec.degree;
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`harary degree must be an integer >= 2, got ${k}`);
  if (k >= n - 1) return completeGraph(n);
  if (k % 2 !== 0) throw new RangeError(`harary degree must be even when below n - 1, got ${k}`);
  const labelAt = seededPermutation(n, spec.seed); // position -> participant
  const sets = Array.from({ length: n }, () => new Set<number>());
  for (let p = 0; p < n; p++) {
    for (let d = 1; d <= k / 2; d++) {
      const a = labelAt[p] as number;
      const b = labelAt[(p + d) % n] as number;
      sets[a]?.add(b);
      sets[b]?.add(a);
    }
  }
  const lists = sets.map((s) => Object.freeze([...s].sort((x, y) => x - y)));
  return { size: n, neighbours: (i) => lists[i] ?? [], areNeighbours: (i, j) => sets[i]?.has(j) ?? false };
}
