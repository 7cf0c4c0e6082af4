import { describe, expect, it } from 'vitest';
import { sha256 } from '../../../crypto/hash.js';
import { utf8Encode } from '../../../crypto/bytes.js';
import { buildGraph, secAggPlusDegree, type CommunicationGraph } from '../../../crypto/secagg/graph.js';

const seedA = sha256(utf8Encode('graph a'));
const seedB = sha256(utf8Encode('graph b'));

function connected(graph: CommunicationGraph): boolean {
  const seen = new Set([0]);
  const queue = [0];
  while (queue.length) {
    for (const j of graph.neighbours(queue.pop() as number)) {
      if (!seen.has(j)) {
        seen.add(j);
        queue.push(j);
      }
    }
  }
  return seen.size === graph.size;
}

const edges = (g: CommunicationGraph) => Array.from({ length: g.size }, (_, i) => g.neighbours(i).join(',')).join(';');

describe('communication graph', () => {
  it('complete graph: everyone neighbours everyone else', () => {
    const g = buildGraph(6, { kind: 'complete' });

    expect(g.neighbours(2)).toEqual([0, 1, 3, 4, 5]);
    expect(g.areNeighbours(2, 2)).toBe(false);
    expect(g.areNeighbours(0, 5)).toBe(true);
  });

  it('SecAgg+ random Harary graph: k-regular, symmetric, connected, and fixed by its public seed', () => {
    const n = 30;
    const k = secAggPlusDegree(n);

    const g = buildGraph(n, { kind: 'harary', degree: k, seed: seedA });

    expect(k).toBe(10);
    for (let i = 0; i < n; i++) {
      expect(g.neighbours(i)).toHaveLength(k);
      expect(g.neighbours(i)).not.toContain(i);
      for (const j of g.neighbours(i)) expect(g.areNeighbours(j, i)).toBe(true);
    }
    expect(connected(g)).toBe(true);
    expect(edges(buildGraph(n, { kind: 'harary', degree: k, seed: seedA }))).toBe(edges(g));
    expect(edges(buildGraph(n, { kind: 'harary', degree: k, seed: seedB }))).not.toBe(edges(g));
  });

  it('labels are shuffled: neighbourhoods are not runs of consecutive indices', () => {
    const g = buildGraph(100, { kind: 'harary', degree: 14, seed: seedA });

    const consecutive = Array.from({ length: 100 }, (_, i) => g.neighbours(i)).filter((ns) =>
      ns.every((j, a) => a === 0 || j === (ns[a - 1] as number) + 1),
    );

    expect(consecutive.length).toBeLessThan(5);
  });

  it('falls back to the complete graph when k >= n - 1, and refuses an odd degree below it', () => {
    expect(secAggPlusDegree(4)).toBe(3);
    expect(buildGraph(4, { kind: 'harary', degree: 3, seed: seedA }).neighbours(0)).toEqual([1, 2, 3]);
    expect(() => buildGraph(30, { kind: 'harary', degree: 9, seed: seedA })).toThrow(RangeError);
    expect(() => buildGraph(30, { kind: 'harary', degree: 10, seed: new Uint8Array(3) })).toThrow(TypeError);
  });
});
