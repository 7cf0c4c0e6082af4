/** Partitions of one dataset among simulated institutions: disjoint, reproducible, and as skewed as asked. */
import { describe, expect, it } from 'vitest';
import { loadMnist, parsePartition, partition, partitionSummary, type PartitionScheme } from '../../../node-agent/data/index.js';

const labels = loadMnist().y;

/** Mean over institutions of the share of their largest class. */
function meanMaxShare(parts: number[][]): number {
  const shares = parts.map((rows) => {
    const counts = new Array<number>(10).fill(0);
    for (const r of rows) counts[labels[r] as number]! += 1;
    return Math.max(...counts) / rows.length;
  });
  return shares.reduce((a, b) => a + b, 0) / shares.length;
}

function expectDisjoint(parts: number[][]): void {
  const all = parts.flat();
  expect(new Set(all).size).toBe(all.length);
}

describe('parsePartition', () => {
  it('parses the four schemes', () => {
    expect(parsePartition('iid')).toEqual({ kind: 'iid' });
    expect(parsePartition('dirichlet:0.5')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(parsePartition('shards:2')).toEqual({ kind: 'shards', perInstitution: 2 });
    expect(parsePartition('quantity:1.0')).toEqual({ kind: 'quantity', alpha: 1 });
  });

  it('rejects unknown kinds, missing or bad arguments with a usage hint', () => {
    expect(() => parsePartition('zipf:2')).toThrow(/expected iid, dirichlet:<alpha>/);
    expect(() => parsePartition('dirichlet')).toThrow(/expected iid/);
    expect(() => parsePartition('dirichlet:-1')).toThrow(/alpha must be a positive number/);
    expect(() => parsePartition('quantity:abc')).toThrow(/alpha must be a positive number/);
    expect(() => parsePartition('shards:1.5')).toThrow(/positive integer/);
    expect(() => parsePartition('shards:0')).toThrow(/positive integer/);
    expect(() => parsePartition('iid:3')).toThrow(/expected iid/);
  });
});

describe('partition', () => {
  const schemes: PartitionScheme[] = [
    { kind: 'iid' },
    { kind: 'dirichlet', alpha: 0.5 },
    { kind: 'shards', perInstitution: 2 },
    { kind: 'quantity', alpha: 1 },
  ];

  it.each(schemes)('$kind: disjoint, covering every row, ascending, min rows met, same for a seed, different for another', (scheme) => {
    const [a, b, c] = [1, 1, 2].map((seed) => partition(labels, 10, scheme, seed)) as [number[][], number[][], number[][]];

    expectDisjoint(a);
    expect(a.flat().length).toBe(labels.length);
    a.forEach((rows) => expect(rows).toEqual([...rows].sort((x, y) => x - y)));
    a.forEach((rows) => expect(rows.length).toBeGreaterThanOrEqual(100)); // floor(10000 / 10 / 10)
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('iid gives near-equal sizes and near-uniform labels', () => {
    const parts = partition(labels, 10, { kind: 'iid' }, 3);

    parts.forEach((rows) => expect(rows.length).toBe(1000));
    expect(meanMaxShare(parts)).toBeLessThan(0.16);
  });

  it('shards:2 over 100 institutions gives each at most 2 labels (McMahan et al.)', () => {
    const parts = partition(labels, 100, { kind: 'shards', perInstitution: 2 }, 4);

    expect(parts).toHaveLength(100);
    expect(parts.flat().length).toBe(labels.length);
    expectDisjoint(parts);
    parts.forEach((rows) => expect(new Set(rows.map((r) => labels[r])).size).toBeLessThanOrEqual(2));
    parts.forEach((rows) => expect(rows.length).toBeGreaterThan(40));
  });

  it('dirichlet:0.1 is far more label-skewed than iid', () => {
    const skewed = partition(labels, 10, { kind: 'dirichlet', alpha: 0.1 }, 5);
    const iid = partition(labels, 10, { kind: 'iid' }, 5);

    expect(meanMaxShare(skewed)).toBeGreaterThan(0.45);
    expect(meanMaxShare(skewed)).toBeGreaterThan(meanMaxShare(iid) + 0.3);
    expectDisjoint(skewed);
    expect(skewed.flat().length).toBe(labels.length);
  });

  it('quantity:0.5 skews sizes while keeping labels near-uniform', () => {
    const parts = partition(labels, 10, { kind: 'quantity', alpha: 0.5 }, 6);
    const sizes = parts.map((rows) => rows.length);

    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(3);
    expect(meanMaxShare(parts.filter((rows) => rows.length >= 500))).toBeLessThan(0.2);
  });

  it('gives every institution a row even when alpha is tiny', () => {
    const parts = partition(labels, 50, { kind: 'dirichlet', alpha: 0.01 }, 7);

    parts.forEach((rows) => expect(rows.length).toBeGreaterThanOrEqual(1));
    expect(parts.flat().length).toBe(labels.length);
    expectDisjoint(parts);
  });

  it('rejects more institutions than rows, or more shards than rows', () => {
    expect(() => partition([0, 1, 0], 4, { kind: 'iid' }, 1)).toThrow(/4 institutions .* 3 rows/);
    expect(() => partition([0, 1, 0, 1], 2, { kind: 'shards', perInstitution: 3 }, 1)).toThrow(/6 shards need at least 6 rows/);
  });
});

describe('partitionSummary', () => {
  it('tabulates label counts per institution with totals', () => {
    const small = [0, 0, 1, 2, 2, 2];

    const text = partitionSummary(
      small,
      [
        [0, 2],
        [1, 3, 4, 5],
      ],
      ['a', 'b', 'c'],
    );

    expect(text.split('\n').map((line) => line.trim().split(/\s+/))).toEqual([
      ['institution', 'a', 'b', 'c', 'total'],
      ['0', '1', '1', '0', '2'],
      ['1', '1', '0', '3', '4'],
      ['total', '2', '1', '3', '6'],
    ]);
  });
});
