/** Secure aggregation end to end: real coordinator, real agents, masked updates over socket.io, unmasked sum published. */
import { describe, expect } from 'vitest';
import { createPrng, secagg } from '../../crypto/index.js';
import { decodeTensors, type NamedTensor } from '../../protocol/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import type { CustomTrainer } from '../../node-agent/index.js';
import { e2e, startAgent, startFederation, type Federation } from './helpers.js';

const secure = { graph: 'complete' as const, clipNorm: 50, stepTimeoutMs: 5_000 };

/** A site that "trains" by adding a fixed, seeded delta to the global weights: its update is known exactly. */
function knownDelta(seed: number, samples: number, log: Map<number, { deltas: NamedTensor[]; samples: number }>): CustomTrainer {
  return async ({ weights }) => {
    const rng = createPrng(seed);
    const deltas = weights.map((t) => ({ name: t.name, shape: t.shape, data: Float32Array.from(t.data, () => (rng.next() - 0.5) * 0.02) }));
    log.set(seed, { deltas, samples });
    return {
      weights: weights.map((t, i) => ({
        name: t.name,
        shape: t.shape,
        data: Float32Array.from(t.data, (v, j) => v + (deltas[i]!.data[j] as number)),
      })),
      metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 1 },
      trainSamples: samples,
    };
  };
}

/** A site that advertises keys and shares them, then never finishes training: it drops after the key exchange. */
const stalls: CustomTrainer = () => new Promise(() => undefined);

const model = (fed: Federation, v: number) => {
  const { store } = fed.coordinator;
  const record = store.getModel('e2e', v)!;
  return decodeTensors(loadModelFile(fed.dir, record.path, record.digest)).tensors;
};

describe('secure aggregation through the real coordinator and agents', () => {
  e2e('publishes the weighted average of the masked updates: plain FedAvg within the quantisation error', async ({ cohort }) => {
    const fed = await cohort.federation(3, { rounds: 1, minParticipants: 3, secagg: secure });
    const sent = new Map<number, { deltas: NamedTensor[]; samples: number }>();
    const samples = [240, 120, 60];
    for (let i = 0; i < 3; i++) cohort.agent(fed, i, { trainer: knownDelta(i + 1, samples[i]!, sent), valFraction: 0.1 });
    await Promise.all(cohort.agents.map((a) => a.done));

    const before = model(fed, 0);
    const after = model(fed, 1);
    const weightSum = samples.reduce((a, b) => a + b, 0);
    const round = fed.coordinator.store.getRound('e2e', 1)!;
    expect(round.state).toBe('published');
    const started = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'secagg.started' })[0]!.data as {
      scale: number;
      participants: number;
    };
    expect(started.participants).toBe(3);
    // Stochastic rounding errs by < 1/scale per entry per participant (crypto/secagg/ring averageErrorBound).
    const bound = secagg.averageErrorBound({
      params: { clipNorm: 50, maxWeight: 270, maxParticipants: 3, scale: started.scale },
      participants: 3,
      weightSum,
      rounding: 'stochastic',
    });
    let worst = 0;
    before.forEach((t, i) => {
      for (let j = 0; j < t.data.length; j++) {
        let expected = t.data[j] as number;
        for (const { deltas, samples: w } of sent.values()) expected += (w * (deltas[i]!.data[j] as number)) / weightSum;
        worst = Math.max(worst, Math.abs((after[i]!.data[j] as number) - expected));
      }
    });
    expect(worst).toBeLessThan(bound + 1e-6);
    // ...and it really moved: the average delta is far larger than the error.
    expect(Math.abs((after[0]!.data[0] as number) - (before[0]!.data[0] as number))).toBeGreaterThan(0);
    const kinds = fed.coordinator.store.listAudit({ federationId: 'e2e' }).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['secagg.started', 'secagg.step', 'secagg.unmasked', 'model.published']));
    expect(fed.coordinator.store.getFederation('e2e')!.manifest.privacy.secureAggregation).toBe(true);
  });

  e2e('trains for real under secure aggregation: accuracy rises over two rounds', async ({ cohort }) => {
    const fed = await cohort.federation(3, { rounds: 2, minParticipants: 3, secagg: secure }, 'logreg', 200);
    for (let i = 0; i < 3; i++) cohort.agent(fed, i);
    await Promise.all(cohort.agents.map((a) => a.done));

    const rounds = fed.coordinator.store.listRounds('e2e');
    expect(rounds.map((r) => r.state)).toEqual(['published', 'published']);
    const participations = fed.coordinator.store.listParticipations('e2e', 2);
    expect(participations.every((p) => p.status === 'accepted')).toBe(true);
    const accepted = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'update.accepted' });
    expect(accepted.every((e) => (e.data as { masked?: boolean }).masked === true)).toBe(true);
    const accuracy = (r: number) => (rounds[r]!.metrics as { valAccuracy: number }).valAccuracy;
    expect(accuracy(1)).toBeGreaterThan(0.5);
    expect(accuracy(1)).toBeGreaterThan(accuracy(0) - 0.05);
  });

  e2e("completes when a site drops after the key exchange: its pairwise masks are removed with the others' shares", async ({ cohort }) => {
    const fed = await cohort.federation(4, { rounds: 1, minParticipants: 3, joinGraceMs: 10_000, roundTimeoutMs: 4_000, secagg: secure });
    const sent = new Map<number, { deltas: NamedTensor[]; samples: number }>();
    for (let i = 0; i < 3; i++) cohort.agent(fed, i, { trainer: knownDelta(i + 1, 100, sent) });
    cohort.agent(fed, 3, { trainer: stalls });
    await Promise.all(cohort.agents.slice(0, 3).map((a) => a.done));

    const before = model(fed, 0);
    const after = model(fed, 1);
    let worst = 0;
    before.forEach((t, i) => {
      for (let j = 0; j < t.data.length; j++) {
        let expected = t.data[j] as number;
        for (const { deltas } of sent.values()) expected += (deltas[i]!.data[j] as number) / 3;
        worst = Math.max(worst, Math.abs((after[i]!.data[j] as number) - expected));
      }
    });
    expect(worst).toBeLessThan(1e-4);
    const unmasked = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'secagg.unmasked' })[0]!.data as {
      survivors: string[];
      dropped: string[];
    };
    expect(unmasked.survivors).toHaveLength(3);
    expect(unmasked.dropped).toEqual(['site-4']);
    expect(fed.coordinator.store.getParticipation('e2e', 1, 'site-4')!.status).toBe('dropped');
  });

  e2e('fails cleanly, publishing nothing, when fewer than t sites send masked inputs', async ({ cohort }) => {
    const fed = await cohort.federation(3, {
      rounds: 1,
      minParticipants: 1,
      roundTimeoutMs: 3_000,
      maxConsecutiveFailures: 1,
      secagg: secure,
    });
    const sent = new Map<number, { deltas: NamedTensor[]; samples: number }>();
    cohort.agents.push(
      startAgent(fed, 0, { trainer: knownDelta(1, 100, sent) }),
      startAgent(fed, 1, { trainer: stalls }),
      startAgent(fed, 2, { trainer: stalls }),
    );
    const failed = new Promise<void>((resolve) => fed.coordinator.runner.once('round:failed', () => resolve()));
    await failed;

    const round = fed.coordinator.store.getRound('e2e', 1)!;
    expect(round.state).toBe('failed');
    expect(round.reason).toMatch(/TOO_FEW_PARTICIPANTS/);
    expect(fed.coordinator.store.getModel('e2e', 1)).toBeUndefined();
    expect(fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'secagg.failed' })).toHaveLength(1);
  });

  e2e(
    'distributed DP: each site adds its share of the noise before masking, and the published sum carries std z*C*sqrt(n/t)',
    async ({ cohort }) => {
      const [z, clip] = [2, 0.5];
      const fed = await cohort.federation(3, { rounds: 1, minParticipants: 3, secagg: secure, dp: { noiseMultiplier: z, clipNorm: clip } });
      const sent = new Map<number, { deltas: NamedTensor[]; samples: number }>();
      for (let i = 0; i < 3; i++) cohort.agent(fed, i, { trainer: knownDelta(i + 1, 100, sent) });
      await Promise.all(cohort.agents.map((a) => a.done));

      const started = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'secagg.started' })[0]!.data as {
        threshold: number;
        distributedNoiseStd: number;
      };
      expect(started.distributedNoiseStd).toBeCloseTo((z * clip) / Math.sqrt(started.threshold), 9);
      const before = model(fed, 0);
      const after = model(fed, 1);
      // Each site clipped its delta to C, so the residual after removing the mean of the clipped deltas is the noise.
      const clipped = [...sent.values()].map(({ deltas }) => {
        const norm = Math.sqrt(deltas.reduce((a, t) => a + t.data.reduce((b, v) => b + v * v, 0), 0));
        const f = norm > clip ? clip / norm : 1;
        return deltas.map((t) => Float32Array.from(t.data, (v) => v * f));
      });
      const residual: number[] = [];
      before.forEach((t, i) => {
        for (let j = 0; j < t.data.length; j++) {
          const mean = clipped.reduce((a, d) => a + (d[i]![j] as number), 0) / 3;
          residual.push((after[i]!.data[j] as number) - (t.data[j] as number) - mean);
        }
      });
      const std = Math.sqrt(residual.reduce((a, r) => a + r * r, 0) / residual.length);
      const expected = (z * clip * Math.sqrt(3 / started.threshold)) / 3;
      expect(std).toBeGreaterThan(expected * 0.95);
      expect(std).toBeLessThan(expected * 1.05);
      const round = fed.coordinator.store.getRound('e2e', 1)!;
      expect((round.metrics as { epsilon?: number }).epsilon).toBeGreaterThan(0);
    },
  );

  e2e('refuses a configuration whose strategy needs individual updates', async () => {
    await expect(startFederation(3, { rounds: 1, minParticipants: 3, strategy: 'median', secagg: secure })).rejects.toThrow(
      /reveals only the sum/,
    );
  });
});
