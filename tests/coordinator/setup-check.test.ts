/** A resumed federation's setup against the given one: which differences refuse a start, and which do not. */
import { describe, expect, it } from 'vitest';
import { FederationSetupSchema } from '../../coordinator/config.js';
import { setupChangedError, setupDifferences } from '../../coordinator/setup-check.js';
import type { Federation } from '../../coordinator/store/index.js';

const setup = FederationSetupSchema.parse({
  id: 'fed',
  name: 'fed',
  spec: { arch: 'logreg', inputShape: [2], features: ['age', 'bmi'], classes: ['a', 'b'] },
  study: { title: 'T', purpose: 'P', dataCategories: ['c'] },
  rules: { rounds: 3, minParticipants: 2, train: { localEpochs: 1, batchSize: 10, learningRate: 0.1 } },
});
/** The federation as the store keeps it: JSON, with the pooled normalisation the coordinator added. */
const stored = {
  name: 'fed',
  spec: { ...setup.spec, normalization: { mean: [50, 25], std: [10, 4] } },
  config: JSON.parse(JSON.stringify(setup.rules)),
  manifest: { title: 'T', purpose: 'P', dataCategories: ['c'] },
} as unknown as Federation;

describe('setupDifferences', () => {
  it('finds none for the same setup, even with the normalisation the coordinator pooled and rules stored before a default existed', () => {
    const { evaluationTimeoutMs: _, ...olderRules } = stored.config as Record<string, unknown>;

    expect(setupDifferences(stored, setup)).toEqual([]);
    expect(setupDifferences({ ...stored, config: olderRules } as unknown as Federation, setup)).toEqual([]);
  });

  it('names every changed field of the rules, the spec and the study, and the error lists them', () => {
    const given = {
      ...setup,
      rules: { ...setup.rules, strategy: 'krum', seed: 7 },
      spec: { ...setup.spec, classes: ['a', 'b', 'c'] },
      study: { ...setup.study, dataCategories: ['c', 'd'] },
    };

    const diffs = setupDifferences(stored, given);

    expect(diffs.map((d) => d.field)).toEqual(['rules.seed', 'rules.strategy', 'spec.classes', 'study.dataCategories']);
    expect(setupChangedError('fed', diffs).message).toContain('rules.strategy (stored "fedavg", given "krum")');
  });

  it("finds none for an image spec whose per-channel values the coordinator pooled, but names a change of the normalisation's source", () => {
    const image = { ...setup, spec: { arch: 'logreg', inputShape: [12], classes: ['a', 'b'], channelNormalization: { source: 'pooled' } } };
    const pooled = {
      ...stored,
      spec: { ...image.spec, channelNormalization: { source: 'pooled', mean: [0.4, 0.5, 0.6], std: [0.2, 0.2, 0.3] } },
    };

    const same = setupDifferences(pooled as unknown as Federation, image as typeof setup);
    const dropped = setupDifferences(
      pooled as unknown as Federation,
      { ...image, spec: { ...image.spec, channelNormalization: undefined } } as typeof setup,
    );

    expect(same).toEqual([]);
    expect(dropped.map((d) => d.field)).toEqual(['spec.channelNormalization']);
  });
});
