/** A federation that fails (too many consecutive failed rounds): every agent hears it, and its `done` rejects with the reason. */
import { describe, expect } from 'vitest';
import { e2e, startAgent } from './helpers.js';

/** What `done` settled with: its rejection, undefined if it resolved, or 'no answer' after `ms` (an agent left waiting). */
const outcome = (done: Promise<unknown>, ms = 20_000): Promise<unknown> =>
  Promise.race([
    done.then(
      () => undefined,
      (err: unknown) => err,
    ),
    new Promise((resolve) => setTimeout(() => resolve('no answer'), ms)),
  ]);

describe('a federation that fails', () => {
  e2e(
    "tells the connected agent, and one that connects afterwards, that it failed: both agents' done rejects with FEDERATION_FAILED and the reason",
    async ({ cohort }) => {
      // Two sites needed, one ever online: every round fails at its wait deadline, the second failure ends the federation.
      const f = await cohort.federation(2, { minParticipants: 2, waitTimeoutMs: 2_500, maxConsecutiveFailures: 2 });
      const connected = startAgent(f, 0);
      cohort.agents.push(connected);
      await connected.ready;
      const failedBeforeReady = f.coordinator.runner.failedReason !== undefined;

      const heard = await outcome(connected.done);
      const late = startAgent(f, 1);
      cohort.agents.push(late);
      const lateHeard = await outcome(late.done);

      expect(failedBeforeReady).toBe(false);
      expect(heard).toMatchObject({
        code: 'FEDERATION_FAILED',
        message: 'federation e2e failed: 2 consecutive rounds failed or were withheld',
      });
      expect(lateHeard).toMatchObject({
        code: 'FEDERATION_FAILED',
        message: 'federation e2e failed: 2 consecutive rounds failed or were withheld',
      });
      expect(f.coordinator.store.getFederation('e2e')?.status).toBe('failed');
      expect(f.coordinator.store.listRounds('e2e').map((r) => r.state)).toEqual(['failed', 'failed']);
    },
  );
});
