import { describe, expect, it } from 'vitest';
import { dp } from '../../crypto/index.js';
import { decodeTensors } from '../../protocol/index.js';
import { noiseAverage, plannedBudget, spentAfter, updateNorm } from '../../coordinator/privacy.js';
import { RoundRulesSchema } from '../../coordinator/config.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { clipUpdate } from '../../node-agent/mods/dp-clip.js';
import { e2e, grantConsent, startAgent } from './helpers.js';
import { joinAs, sealUpdate, taskWeights } from './raw-client.js';

const rules = (extra: Record<string, unknown> = {}) =>
  RoundRulesSchema.parse({
    rounds: 3,
    minParticipants: 2,
    train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
    dp: { noiseMultiplier: 1.1, clipNorm: 1 },
    ...extra,
  });

describe('client-level differential privacy', () => {
  it('clips a site update to the clip norm, and leaves a small one alone', () => {
    const global = [{ name: 'w', shape: [3], data: Float32Array.of(1, 1, 1) }];
    const far = clipUpdate(global, [{ name: 'w', shape: [3], data: Float32Array.of(4, 5, 1) }], 1);
    const near = clipUpdate(global, [{ name: 'w', shape: [3], data: Float32Array.of(1.3, 1.4, 1) }], 1);

    expect(far.norm).toBeCloseTo(5, 6);
    expect(updateNorm(far.weights, global)).toBeLessThanOrEqual(1);
    expect(updateNorm(far.weights, global)).toBeGreaterThan(0.999);
    expect(Array.from(near.weights[0]!.data)).toEqual(Array.from(Float32Array.of(1.3, 1.4, 1)));
  });

  it('adds Gaussian noise of std z*C/count to the average, in place', () => {
    const average = [new Float32Array(20_000), new Float32Array(20_000)];
    noiseAverage(average, rules({ dp: { noiseMultiplier: 2, clipNorm: 1.5 } }), 3);

    const values = [...average[0]!, ...average[1]!];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.97);
    expect(std).toBeLessThan(1.03);
  });

  it('plans the budget with the RDP accountant and refuses a strategy whose analysis does not hold', () => {
    const r = rules({ fraction: 0.5 });
    expect(plannedBudget(r)).toEqual({
      epsilon: spentAfter(r, 3),
      delta: 1e-5,
      noiseMultiplier: 1.1,
      clipNorm: 1,
      sampling: 'coordinator',
      samplingRate: 1,
    });
    // The coordinator selects, so no amplification by subsampling: q = 1 whatever the fraction (docs/privacy-dp.md).
    expect(spentAfter(r, 3)).toBeCloseTo(dp.epsilonFor({ q: 1, noiseMultiplier: 1.1, steps: 3, delta: 1e-5 }).epsilon, 5);
    expect(spentAfter(r, 1)).toBeLessThan(spentAfter(r, 2));
    expect(() => plannedBudget(rules({ strategy: 'median' }))).toThrow(/mean-based strategy/);
  });

  e2e(
    'runs end to end: sites clip, the coordinator adds noise, every round records epsilon spent within the study budget',
    async ({ cohort }) => {
      const fed = await cohort.federation(
        2,
        {
          rounds: 2,
          minParticipants: 2,
          train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
          dp: { noiseMultiplier: 1.1, clipNorm: 0.5 },
        },
        'logreg',
        150,
      );
      cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));

      await Promise.all(cohort.agents.map((a) => a.done));

      const { store } = fed.coordinator;
      const manifest = store.getFederation('e2e')!.manifest;
      const rounds = store.listRounds('e2e');
      expect(manifest.privacy.dp?.delta).toBe(1e-5);
      const config = store.getFederation('e2e')!.config;
      expect(rounds.map((r) => r.metrics?.epsilon)).toEqual([spentAfter(config, 1), spentAfter(config, 2)]);
      expect(spentAfter(config, 2)).toBe(manifest.privacy.dp?.epsilon);
      const model = (v: number) =>
        decodeTensors(loadModelFile(fed.dir, store.getModel('e2e', v)!.path, store.getModel('e2e', v)!.digest)).tensors;
      // The published step is the mean of two clipped updates plus noise: it moved, but not arbitrarily far.
      const step = updateNorm(model(1), model(0));
      expect(step).toBeGreaterThan(0);
      expect((store.getModel('e2e', 2)!.card as { privacy: { epsilonSpent: number } }).privacy.epsilonSpent).toBe(
        manifest.privacy.dp?.epsilon,
      );
    },
  );

  e2e('refuses an update the site did not clip, naming the norm and the clip', async ({ cohort }) => {
    const fed = await cohort.federation(
      2,
      {
        rounds: 1,
        minParticipants: 1,
        joinGraceMs: 10_000,
        train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
        dp: { noiseMultiplier: 1, clipNorm: 0.1 },
      },
      'logreg',
      100,
    );
    const raw = await joinAs(fed.coordinator.url, 'e2e', fed.institutions[1]!);
    // site-1 ends up the only contributor: its consent must accept an aggregate with no other institution.
    grantConsent(fed, 0, 0);
    cohort.agent(fed, 0);
    const task = await raw.nextTask();
    expect(task.config.dpClipNorm).toBe(0.1);
    const tensors = taskWeights(task).map((t) => ({ ...t, data: t.data.map((x) => x + 0.05) }));

    const { ack } = await raw.upload(
      task.round,
      sealUpdate({ identity: fed.institutions[1]!, coordinatorBoxPublicKey: fed.coordinatorIdentity.boxPublicKey, task, tensors }),
    );
    await cohort.agents[0]!.done;
    raw.close();

    expect(ack).toMatchObject({
      ok: false,
      error: { code: 'UPDATE_NORM_EXCEEDED', message: expect.stringMatching(/above the DP clip norm 0.1/) },
    });
    expect(fed.coordinator.store.getParticipation('e2e', 1, 'site-2')).toMatchObject({ status: 'refused', code: 'UPDATE_NORM_EXCEEDED' });
  });
});
