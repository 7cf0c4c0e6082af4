/** One malicious enrolled site against the real coordinator: its outsized update is refused, its lies about accuracy cannot publish a poisoned model. */
import { describe, expect } from 'vitest';
import type { NamedTensor, RoundTask } from '../../protocol/index.js';
import { createPrng, type Identity } from '../../crypto/index.js';
import { byzantineMod, scaledUpdate } from '../../simulations/simulate/byzantine.js';
import { updateNorm } from '../../coordinator/privacy.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { decodeTensors } from '../../protocol/index.js';
import { e2e, type Federation, startAgent } from './helpers.js';
import { joinAs, sealUpdate, taskWeights, until, type RawClient } from './raw-client.js';

const audits = (fed: Federation, kind: string, actor?: string) =>
  fed.coordinator.store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === kind && (actor === undefined || e.actor === actor));
const modelOf = (fed: Federation, version: number): NamedTensor[] => {
  const record = fed.coordinator.store.getModel('e2e', version)!;
  return decodeTensors(loadModelFile(fed.dir, record.path, record.digest)).tensors;
};
const upload = (fed: Federation, raw: RawClient, site: Identity, task: RoundTask, tensors: NamedTensor[], samples = 100) =>
  raw.upload(
    task.round,
    sealUpdate({ identity: site, coordinatorBoxPublicKey: fed.coordinatorIdentity.boxPublicKey, task, tensors, meta: { samples } }),
  );

describe('the update bound', () => {
  e2e(
    "refuses an update of 1e30s with UPDATE_NORM_EXCEEDED, audits its norm and the bound, and publishes the honest sites' model",
    async ({ cohort }) => {
      const fed = await cohort.federation(
        3,
        { rounds: 1, minParticipants: 2, joinGraceMs: 10_000, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
        'logreg',
        200,
      );
      const site = fed.institutions[2]!;
      const raw = await joinAs(fed.coordinator.url, 'e2e', site);
      cohort.track(raw);
      cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));
      const task = await raw.nextTask();

      const poisoned = taskWeights(task).map((t) => ({ ...t, data: new Float32Array(t.data.length).fill(1e30) }));
      const { ack } = await upload(fed, raw, site, task, poisoned);
      await Promise.all(cohort.agents.map((a) => a.done));

      expect(ack).toMatchObject({
        ok: false,
        error: { code: 'UPDATE_NORM_EXCEEDED', message: expect.stringMatching(/above the round's bound .*first-round/) },
      });
      const [refused] = audits(fed, 'update.refused', 'site-3');
      expect(refused?.data).toMatchObject({ code: 'UPDATE_NORM_EXCEEDED', boundSource: 'first-round', bound: Math.sqrt(7850) });
      expect(refused?.data.norm).toBeGreaterThan(1e30);
      expect(fed.coordinator.store.getParticipation('e2e', 1, 'site-3')).toMatchObject({ status: 'refused', code: 'UPDATE_NORM_EXCEEDED' });
      expect(
        audits(fed, 'update.accepted')
          .map((e) => e.actor)
          .sort(),
      ).toEqual(['site-1', 'site-2']);
      const round = fed.coordinator.store.getRound('e2e', 1)!;
      expect(round.state).toBe('published');
      // The published model is the honest sites' average: close to where it started, and it classifies digits.
      expect(updateNorm(modelOf(fed, 1), modelOf(fed, 0))).toBeLessThan(Math.sqrt(7850));
      expect(round.metrics?.siteValAccuracyMedian).toBeGreaterThan(0.3); // chance: 0.1
      expect(fed.coordinator.store.getFederation('e2e')!.manifest.updateBound).toBeUndefined(); // the default bound: nothing for the study to state
    },
  );

  e2e(
    "refuses a scaled update (×100) once an honest round set the median, keeping the other sites' updates of that round",
    async ({ cohort }) => {
      const fed = await cohort.federation(
        4,
        { rounds: 2, minParticipants: 3, joinGraceMs: 10_000, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
        'logreg',
        200,
      );
      const boost = scaledUpdate(100).transform;
      cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1), startAgent(fed, 2));
      // Honest in round 1 (so that it is one of the sites that set the median), then its update boosted a hundredfold.
      cohort.agent(fed, 3, { mods: [byzantineMod((input) => (input.round === 1 ? [...input.trained] : boost(input)))] });
      await Promise.all(cohort.agents.map((a) => a.done));

      const { store } = fed.coordinator;
      const [first, second] = [store.getRound('e2e', 1)!, store.getRound('e2e', 2)!];
      expect(first.state).toBe('published');
      expect(second.state).toBe('published');
      const median = first.metrics!.updateNormMedian!;
      expect(second.metrics?.updateNormBound).toBeCloseTo(10 * median, 6);
      const [refused] = audits(fed, 'update.refused', 'site-4');
      expect(refused?.data).toMatchObject({ round: 2, code: 'UPDATE_NORM_EXCEEDED', boundSource: 'median', bound: 10 * median });
      expect(refused?.data.norm).toBeGreaterThan(10 * median);
      expect(
        audits(fed, 'update.accepted')
          .filter((e) => e.data.round === 2)
          .map((e) => e.actor)
          .sort(),
      ).toEqual(['site-1', 'site-2', 'site-3']);
      expect(second.metrics?.siteValAccuracyMedian).toBeGreaterThan(0.5);
    },
  );
});

describe('the update bound across a coordinator restart', () => {
  e2e('takes the last recorded median back from the round records instead of falling back to the first-round bound', async ({ cohort }) => {
    const f = await cohort.federation(
      3,
      { rounds: 2, minParticipants: 3, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
      'logreg',
      150,
    );
    cohort.agents.push(startAgent(f, 0), startAgent(f, 1), startAgent(f, 2));
    await new Promise<void>((resolve) => f.coordinator.runner.once('round:published', () => resolve()));

    await f.restart();
    await Promise.all(cohort.agents.map((a) => a.done));

    const rounds = f.coordinator.store.listRounds('e2e').filter((r) => r.state === 'published');
    const [first, after] = [rounds[0]!, rounds[1]!];
    expect(after.round).toBeGreaterThan(first.round);
    expect(after.metrics?.updateNormBound).toBeCloseTo(10 * first.metrics!.updateNormMedian!, 6);
  });
});

describe('the regression guard', () => {
  e2e('withholds a poisoned candidate although the poisoning site reports an accuracy of 1.0', async ({ cohort }) => {
    // The study's bound is set high so the poison reaches the aggregate: this test isolates the publication gate.
    const fed = await cohort.federation(
      4,
      {
        rounds: 2,
        minParticipants: 4,
        joinGraceMs: 10_000,
        maxUpdateNorm: 1e9,
        train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
      },
      'logreg',
      200,
    );
    const site = fed.institutions[3]!;
    const raw = await joinAs(fed.coordinator.url, 'e2e', site);
    cohort.track(raw);
    // The liar: in round 2 it claims a perfect accuracy for the candidate it poisoned.
    raw.socket.removeAllListeners('round:evaluate');
    raw.socket.on('round:evaluate', (t: { round: number }) => {
      if (t.round === 1) raw.socket.emit('round:decline', { round: 1, code: 'NO_VALIDATION_DATA', message: 'liar' }, () => undefined);
      else raw.socket.emit('round:evaluation', { round: t.round, valLoss: 0.01, valAccuracy: 1, valSamples: 1000 }, () => undefined);
    });
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1), startAgent(fed, 2));
    const first = await raw.nextTask();
    await upload(fed, raw, site, first, taskWeights(first));
    await until(() => fed.coordinator.store.getRound('e2e', 1)?.state === 'published', 30_000, 'round 1 published');
    const second = await raw.nextTask(30_000);
    const rng = createPrng(3);
    const noise = taskWeights(second).map((t) => ({ ...t, data: t.data.map((x) => x + 300 * rng.normal()) }));
    const { ack } = await upload(fed, raw, site, second, noise);
    const decided = (state: string | undefined) => state === 'withheld' || state === 'published';
    const withheld = await until(
      () => decided(fed.coordinator.store.getRound('e2e', 2)?.state) && fed.coordinator.store.getRound('e2e', 2),
      30_000,
      'round 2 decided',
    );

    expect(ack).toMatchObject({ ok: true });
    expect(withheld.state).toBe('withheld');
    const regression = withheld.decisions!.find((d) => d.rule === 'regression')!;
    const reported = audits(fed, 'evaluation.received')
      .filter((e) => e.data.round === 2)
      .map((e) => e.data.valAccuracy as number);
    expect(reported).toContain(1);
    const mean = reported.reduce((a, b) => a + b, 0) / reported.length;
    expect(regression).toMatchObject({ passed: false, limit: expect.any(Number) });
    expect(regression.value as number).toBeLessThan(regression.limit as number);
    expect(regression.value as number).toBeLessThan(mean); // the liar pulls the mean up, not the median
    expect(withheld.reason).toMatch(/regression: median valAccuracy .* published model v1/);
    expect(fed.coordinator.store.latestModel('e2e')?.version).toBe(1);
    expect(fed.coordinator.store.getFederation('e2e')!.manifest.updateBound).toEqual({ maxUpdateNorm: 1e9 }); // the study states the bound it set
  });
});
