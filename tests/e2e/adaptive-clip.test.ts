/** Adaptive DP clipping end to end: sites report one bit, the coordinator moves the clip norm toward the target quantile. */
import { describe, expect } from 'vitest';
import { e2e, startFederation } from './helpers.js';

describe('adaptive clipping (Andrew et al. 2021) through the real coordinator and agents', () => {
  e2e('raises a clip norm that every update exceeds, round after round, and records it with the privacy spent', async ({ cohort }) => {
    const fed = await cohort.federation(3, {
      rounds: 3,
      minParticipants: 3,
      train: { localEpochs: 1, batchSize: 20, learningRate: 0.1 },
      dp: { noiseMultiplier: 0.5, clipNorm: 0.001 },
      adaptiveClip: { targetQuantile: 0.5, learningRate: 0.5, countNoiseStd: 0.3 },
    });
    for (let i = 0; i < 3; i++) cohort.agent(fed, i);
    await Promise.all(cohort.agents.map((a) => a.done));

    const rounds = fed.coordinator.store.listRounds('e2e').filter((r) => r.state === 'published');
    expect(rounds).toHaveLength(3);
    const clip = rounds.map((r) => r.metrics!.clipNorm!);
    const next = rounds.map((r) => r.metrics!.nextClipNorm!);
    expect(clip[0]).toBe(0.001);
    // Every update is far above 0.001, so every bit is 0 and the norm grows by about exp(0.5 * 0.5) a round.
    expect(clip[1]).toBe(next[0]);
    expect(clip[2]).toBe(next[1]);
    expect(next[2]!).toBeGreaterThan(clip[0]! * 1.5);
    const participations = fed.coordinator.store.listParticipations('e2e', 1);
    expect(participations.map((p) => (p.metrics as { withinClip?: number }).withinClip)).toEqual([0, 0, 0]);
    const adapted = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'dp.clip.adapted' });
    expect(adapted).toHaveLength(3);
    expect(rounds.every((r) => (r.metrics!.epsilon ?? 0) > 0)).toBe(true);
  });

  e2e('is refused without DP, and together with secure aggregation', async () => {
    await expect(startFederation(2, { adaptiveClip: { targetQuantile: 0.5, learningRate: 0.2 } })).rejects.toThrow(/needs rules.dp/);
    await expect(
      startFederation(2, {
        dp: { noiseMultiplier: 1, clipNorm: 1 },
        adaptiveClip: { targetQuantile: 0.5, learningRate: 0.2 },
        secagg: { graph: 'complete', clipNorm: 10, stepTimeoutMs: 1000 },
      }),
    ).rejects.toThrow(/not supported/);
  });
});
