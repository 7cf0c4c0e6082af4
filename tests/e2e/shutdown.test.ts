import { describe, expect } from 'vitest';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import type { CustomTrainer } from '../../node-agent/index.js';
import { e2e, startAgent } from './helpers.js';

/** Returns the global weights unchanged after `ms`, so a round is reliably in training when the test acts. */
const slowTrainer =
  (ms: number): CustomTrainer =>
  async ({ weights, samples }) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { weights, trainSamples: samples, metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: ms } };
  };

describe('a coordinator stopped gracefully (SIGTERM)', () => {
  e2e(
    'records the round in progress as failed with the reason, audits the stop, and a restart runs the federation to the end',
    async ({ cohort }) => {
      const f = await cohort.federation(2, { rounds: 2, minParticipants: 2 }, 'logreg', 100);
      cohort.agents.push(startAgent(f, 0, { trainer: slowTrainer(800) }), startAgent(f, 1, { trainer: slowTrainer(800) }));
      await new Promise<void>((resolve) => f.coordinator.runner.once('round:started', () => resolve()));

      await f.coordinator.shutdown('coordinator stopped (SIGTERM)');
      const { store } = f.coordinator;
      const interrupted = store.getRound('e2e', 1);
      const stoppedEvents = store.listAudit({ federationId: 'e2e', kind: 'coordinator.stopped' });
      await f.restart();
      await Promise.all(cohort.agents.map((a) => a.done));

      expect(interrupted).toMatchObject({ state: 'failed', reason: 'coordinator stopped (SIGTERM)' });
      expect(stoppedEvents.map((e) => e.data)).toEqual([{ reason: 'coordinator stopped (SIGTERM)', round: 1 }]);
      const rounds = f.coordinator.store.listRounds('e2e');
      expect(rounds.filter((r) => r.state === 'published').map((r) => r.round)).toEqual([2, 3]);
      expect(rounds.filter((r) => r.reason === 'coordinator restarted during the round')).toEqual([]); // nothing was left half-done
      expect(verifyAuditTable(f.coordinator.store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
    },
  );
});
