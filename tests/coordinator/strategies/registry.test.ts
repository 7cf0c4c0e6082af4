/** The strategy registry: names, parameters with defaults, clear refusals, fresh state per federation, CLI key=value parsing. */
import { describe, expect, it } from 'vitest';
import {
  createStrategy,
  fedAvg,
  getStrategy,
  parseStrategyParam,
  parseStrategyParams,
  strategyDefinitions,
} from '../../../coordinator/strategies/index.js';

describe('createStrategy', () => {
  it('names the known strategies for an unknown one, including for inherited property names', () => {
    const unknown = () => createStrategy('fedsgd');

    expect(unknown).toThrow(
      'unknown strategy "fedsgd"; known strategies: fedavg, fedavgm, fedprox, fedadam, fedyogi, fedadagrad, median, trimmed-mean, krum, multi-krum',
    );
    expect(() => getStrategy('toString')).toThrow(/unknown strategy "toString"/);
  });

  it('fills in the documented defaults', () => {
    const defaults = Object.fromEntries(Object.keys(strategyDefinitions).map((name) => [name, createStrategy(name).params]));

    expect(defaults).toEqual({
      fedavg: {},
      fedavgm: { lr: 1, momentum: 0.9 },
      fedprox: { mu: 0.01 },
      fedadam: { lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
      fedyogi: { lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
      fedadagrad: { lr: 0.01, beta1: 0, tau: 1e-3 },
      median: { memoryBytes: 256 * 2 ** 20, blockBytes: 8 * 2 ** 20 },
      'trimmed-mean': { beta: 0.1, memoryBytes: 256 * 2 ** 20, blockBytes: 8 * 2 ** 20 },
      krum: { f: 1, memoryBytes: 256 * 2 ** 20, blockBytes: 8 * 2 ** 20 },
      'multi-krum': { f: 1, memoryBytes: 256 * 2 ** 20, blockBytes: 8 * 2 ** 20 },
    });
  });

  it('refuses unknown parameters, listing the valid ones', () => {
    const typo = () => createStrategy('fedadam', { lr: 0.1, beta3: 0.5 });
    const two = () => createStrategy('krum', { n: 1, g: 2 });

    expect(typo).toThrow('unknown parameter "beta3" for strategy "fedadam"; valid parameters: lr, beta1, beta2, tau');
    expect(two).toThrow('unknown parameters "n", "g" for strategy "krum"; valid parameters: f, memoryBytes, blockBytes, spillDir');
  });

  it.each([
    ['fedadam', { beta1: 1 }, /invalid parameters for strategy "fedadam": beta1: .*1/],
    ['fedavgm', { lr: 0 }, /invalid parameters for strategy "fedavgm": lr: /],
    ['trimmed-mean', { beta: 0.5 }, /beta: /],
    ['krum', { f: 1.5 }, /f: /],
    ['fedprox', { mu: '0.1' }, /mu: .*number/],
  ])('refuses a bad value for %s %j', (name, params, message) => {
    expect(() => createStrategy(name, params)).toThrow(message);
  });

  it('makes a new object each time (server state is per federation), but fedavg is the stateless singleton', () => {
    expect(createStrategy('fedadam')).not.toBe(createStrategy('fedadam'));
    expect(getStrategy('fedavg')).toBe(fedAvg);
    expect(createStrategy('fedavg', {})).toBe(fedAvg);
  });
});

describe('parseStrategyParam', () => {
  it('turns key=value into a number when it is one, else keeps the string', () => {
    expect(parseStrategyParam('beta1=0.8')).toEqual(['beta1', 0.8]);
    expect(parseStrategyParam('memoryBytes=1e6')).toEqual(['memoryBytes', 1e6]);
    expect(parseStrategyParam('spillDir=/var/tmp')).toEqual(['spillDir', '/var/tmp']);
    expect(parseStrategyParams(['f=1', 'm=3'])).toEqual({ f: 1, m: 3 });
  });

  it.each(['beta1', '=3', 'lr=', 'a b=1'])('refuses "%s"', (text) => {
    expect(() => parseStrategyParam(text)).toThrow(`expected a strategy parameter as key=value, got "${text}"`);
  });

  it('refuses a key given twice', () => {
    expect(() => parseStrategyParams(['f=1', 'f=2'])).toThrow('strategy parameter "f" is given twice');
  });
});
