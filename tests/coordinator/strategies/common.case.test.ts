/** Every registered strategy through the same cases: shapes, weights, empty rounds, determinism, no kept references, bounded memory. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/prng.js';
import { createStrategy, strategyNames, type BufferedAccumulator, type StrategyParams } from '../../../coordinator/strategies/index.js';

const f32 = (...values: number[]) => new Float32Array(values);
const shapes = [[3, 2], [2]];
const previous = () => [f32(0, 0.5, -0.5, 1, 0, 0), f32(0.25, -0.25)];

/** Five updates (Krum's default f = 1 needs five) with distinct weights, from a seeded PRNG. */
function updates(seed: number, n = 5): { tensors: Float32Array[]; weight: number }[] {
  const rng = createPrng(seed);
  return Array.from({ length: n }, (_, k) => ({
    tensors: previous().map((t) => t.map((v) => v + 0.1 * rng.normal())),
    weight: 1 + k * 7,
  }));
}

const BUFFERED = new Set(['median', 'trimmed-mean', 'krum', 'multi-krum']);

describe.each(strategyNames.map((name) => [name]))('strategy %s (shared cases)', (name) => {
  it('refuses a previous model or an update whose tensors do not match the shapes, keeping what it holds', () => {
    const acc = createStrategy(name).begin(shapes, previous());
    const good = updates(1)[0]!.tensors;
    acc.add(good, 2);

    const badBegin = () => createStrategy(name).begin(shapes, [f32(0, 0), f32(0, 0)]);
    const tooFew = () => acc.add([f32(1, 2, 3, 4, 5, 6)], 1);
    const wrongSize = () => acc.add([f32(1, 2, 3, 4, 5, 6), f32(1)], 1);
    const notFloat32 = () => acc.add([new Float64Array(6) as unknown as Float32Array, f32(1, 2)], 1);

    expect(badBegin).toThrow(/previous model: tensor 0 has 2 values, the model needs 6/);
    expect(tooFew).toThrow(new RangeError('update 2 has 1 tensors, the model has 2'));
    expect(wrongSize).toThrow(new RangeError('update 2: tensor 1 has 1 values, the model needs 2'));
    expect(notFloat32).toThrow(/tensor 0 is not a Float32Array/);
    expect(acc.count).toBe(1);
    expect(acc.totalWeight).toBe(2);
    acc.dispose?.();
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses weight %s', (weight) => {
    const acc = createStrategy(name).begin(shapes, previous());

    const add = () => acc.add(previous(), weight);

    expect(add).toThrow(/weight must be a positive finite number/);
    expect(acc.count).toBe(0);
  });

  it('returns null when nothing was added (keep the previous model)', () => {
    const acc = createStrategy(name).begin(shapes, previous());

    const result = acc.result();

    expect(result).toBeNull();
    expect(acc.count).toBe(0);
    expect(acc.totalWeight).toBe(0);
  });

  it('gives the same model for the same updates, twice in a row (fresh strategy objects), with the model shapes', () => {
    const run = () => {
      const strategy = createStrategy(name);
      const out: Float32Array[][] = [];
      for (const seed of [2, 3]) {
        const acc = strategy.begin(shapes, out.at(-1) ?? previous());
        for (const u of updates(seed)) acc.add(u.tensors, u.weight);
        out.push(acc.result()!);
      }
      return out;
    };

    const first = run();
    const second = run();

    expect(second).toEqual(first);
    expect(first[1]!.map((t) => t.length)).toEqual([6, 2]);
    expect(first[1]!.every((t) => t instanceof Float32Array && t.every(Number.isFinite))).toBe(true);
    expect(first[1]).not.toEqual(first[0]);
  });

  it('keeps the previous model when every update equals it', () => {
    const acc = createStrategy(name).begin(shapes, previous());

    for (let k = 0; k < 5; k++) acc.add(previous(), k + 1);
    const result = acc.result();

    expect(result).toEqual(previous());
  });

  it('keeps no reference to the arrays it was given, and returns the same result when asked twice', () => {
    const given = updates(4);
    const copies = given.map((u) => ({ tensors: u.tensors.map((t) => t.slice()), weight: u.weight }));
    const prev = previous();
    const a = createStrategy(name).begin(shapes, prev);
    const b = createStrategy(name).begin(shapes, previous());

    for (const u of given) a.add(u.tensors, u.weight);
    for (const u of copies) b.add(u.tensors, u.weight);
    for (const u of given) u.tensors.forEach((t) => t.fill(1e6));
    prev.forEach((t) => t.fill(-1e6));
    const result = a.result();

    expect(result).toEqual(b.result());
    expect(a.result()).toEqual(result);
  });

  it.runIf(BUFFERED.has(name))(
    'stays within its memory budget: spills past memoryBytes, reads in blocks, same result, no file left',
    () => {
      const dim = 8;
      const budget = 2 * dim * 4; // two updates in memory
      const given = updates(5, 7);
      const inMemory = createStrategy(name, { memoryBytes: 2 ** 20 }).begin(shapes, previous()) as BufferedAccumulator;
      const spilling = createStrategy(name, { memoryBytes: budget, blockBytes: 12 } satisfies StrategyParams).begin(
        shapes,
        previous(),
      ) as BufferedAccumulator;

      for (const u of given) {
        inMemory.add(u.tensors, u.weight);
        spilling.add(u.tensors, u.weight);
        expect(spilling.bytesInMemory).toBeLessThanOrEqual(budget);
      }
      const dir = spilling.spillPath!;
      const files = readdirSync(dir);
      const fileBytes = statSync(join(dir, files[0]!)).size;
      const spilled = spilling.spilled;
      const result = spilling.result();

      expect(inMemory.spilled).toBe(0);
      expect(inMemory.spillPath).toBeUndefined();
      expect(spilled).toBe(5);
      expect(files).toEqual(['updates.f32']);
      expect(fileBytes).toBe(5 * dim * 4);
      expect(result).toEqual(inMemory.result());
      expect(existsSync(dir)).toBe(false);
    },
  );

  it.runIf(BUFFERED.has(name))('deletes its spill file on dispose() when the round ends without a result', () => {
    const acc = createStrategy(name, { memoryBytes: 0 }).begin(shapes, previous()) as BufferedAccumulator;
    for (const u of updates(6, 2)) acc.add(u.tensors, u.weight);
    const dir = acc.spillPath!;
    const existed = existsSync(dir);

    acc.dispose();

    expect(existed).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(() => acc.add(previous(), 1)).toThrow(/already aggregated/);
  });
});

describe('the shared suite', () => {
  it('covers every registered strategy', () => {
    expect([...strategyNames]).toEqual([
      'fedavg',
      'fedavgm',
      'fedprox',
      'fedadam',
      'fedyogi',
      'fedadagrad',
      'median',
      'trimmed-mean',
      'krum',
      'multi-krum',
    ]);
  });

  it('takes parameters for every strategy but fedavg', () => {
    const given: Record<string, StrategyParams> = {
      fedavgm: { momentum: 0.5 },
      fedprox: { mu: 0.1 },
      fedadam: { lr: 0.1 },
      fedyogi: { beta2: 0.9 },
      fedadagrad: { tau: 0.01 },
      median: { memoryBytes: 0 },
      'trimmed-mean': { beta: 0.3 },
      krum: { f: 2 },
      'multi-krum': { m: 2 },
    };

    const used = Object.fromEntries(Object.entries(given).map(([n, p]) => [n, createStrategy(n, p).params]));

    expect(() => createStrategy('fedavg', { lr: 1 })).toThrow('unknown parameter "lr" for strategy "fedavg"; it takes no parameters');
    expect(Object.keys(given)).toEqual(strategyNames.filter((n) => n !== 'fedavg'));
    for (const [n, p] of Object.entries(given)) expect(used[n]).toMatchObject(p);
  });
});
