import { describe, expect, it } from 'vitest';
import { expectSurvivorAverage, runProtocol } from './harness.js';

describe('SecAgg+ (n = 30, random Harary graph) with dropouts after the masking step', () => {
  it("n = 30, SecAgg+ degree 10: 10% dropped (3) is always recoverable (at most 3 of a participant's 11 holders gone, t = 8)", () => {
    const dropped = ['p04', 'p11', 'p23'];

    const run = runProtocol({ n: 30, vectorLength: 200, label: 'drop-plus', graph: 'harary', dropBeforeMasking: dropped });

    expect(expectSurvivorAverage(run, dropped).dropped).toEqual(dropped);
  });

  it('n = 30, SecAgg+ degree 18, semi-honest threshold: 30% dropped (9) is always recoverable (19 holders, t = 10, at most 9 gone)', () => {
    const dropped = ['p01', 'p05', 'p09', 'p13', 'p17', 'p21', 'p25', 'p29', 'p03'];

    const run = runProtocol({
      n: 30,
      vectorLength: 200,
      label: 'drop-plus',
      graph: 'harary',
      degree: 18,
      threatModel: 'semi-honest',
      dropBeforeMasking: dropped,
    });

    expect(run.config.threshold).toBe(10);
    expect(expectSurvivorAverage(run, dropped).dropped).toHaveLength(9);
  });
});
