import { describe, expect, it } from 'vitest';
import { ModelSpecSchema, parameterCount, type ModelSpec } from '../../protocol/model-spec.js';

const digits = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

describe('parameterCount', () => {
  it('counts 199,210 parameters for the 2NN MLP on MNIST', () => {
    expect(parameterCount({ arch: 'mlp', inputShape: [784], classes: digits })).toBe(199_210);
  });

  it('counts 7,850 parameters for logistic regression on MNIST', () => {
    expect(parameterCount({ arch: 'logreg', inputShape: [784], classes: digits })).toBe(7_850);
  });

  it('counts 1,663,370 parameters for the CNN on 28x28x1', () => {
    expect(parameterCount({ arch: 'cnn', inputShape: [28, 28, 1], classes: digits })).toBe(1_663_370);
  });
});

describe('ModelSpecSchema', () => {
  it('accepts the three MNIST specs (control)', () => {
    const specs: ModelSpec[] = [
      { arch: 'mlp', inputShape: [784], classes: digits },
      { arch: 'logreg', inputShape: [784], classes: digits },
      { arch: 'cnn', inputShape: [28, 28, 1], classes: digits },
    ];
    for (const spec of specs) expect(ModelSpecSchema.safeParse(spec).success).toBe(true);
  });

  it('refuses a cnn with a flat inputShape', () => {
    const result = ModelSpecSchema.safeParse({ arch: 'cnn', inputShape: [784], classes: digits });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/cnn needs inputShape \[height, width, channels\]/);
  });

  it('refuses features of the wrong length', () => {
    const result = ModelSpecSchema.safeParse({ arch: 'logreg', inputShape: [3], classes: ['a', 'b'], features: ['x', 'y'] });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/features has 2 names, inputShape needs 3/);
  });
});
