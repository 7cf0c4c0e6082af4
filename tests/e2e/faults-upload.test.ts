/** Fault: an agent's connection drops in the middle of an upload; it reconnects by itself and the update counts exactly once. */
import { describe, expect } from 'vitest';
import type { Agent } from '../../node-agent/index.js';
import { e2e, permissivePolicy, startAgent, type Cohort, type Federation } from './helpers.js';
import { auditsOf, expectCountedOnce, latch, shiftTrainer } from './faults-helpers.js';

/** The 2NN (199,210 parameters, ~0.8 MB per update) in 128 KiB chunks: 7 chunks per upload. */
const CHUNK = 128 * 1024;
const oneRound = { rounds: 1, minParticipants: 2, joinGraceMs: 0, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } };

/** Two sites that shift every weight by +0.01 (site-1) and -0.03 (site-2); site-2 waits for `gate`. */
async function twoSites(cohort: Cohort, gate: Promise<void>): Promise<{ f: Federation; cut: Agent; other: Agent }> {
  const f = await cohort.federation(2, oneRound, 'mlp', 60, permissivePolicy, { chunkBytes: CHUNK });
  const cut = startAgent(f, 0, { backend: 'cpu', valFraction: 0, trainer: shiftTrainer(0.01) });
  const other = startAgent(f, 1, { backend: 'cpu', valFraction: 0, trainer: shiftTrainer(-0.03, () => gate) });
  cohort.agents.push(cut, other);
  return { f, cut, other };
}

describe('an agent whose connection drops mid-upload', () => {
  e2e(
    "sends its 7 chunks in one window, loses the link at the 4th, reconnects and resumes at the coordinator's next chunk; the update counts once",
    async ({ cohort }) => {
      const gate = latch();
      const { f, cut, other } = await twoSites(cohort, gate.promise);
      const sent: (number | 'begin')[] = [];
      let dropped = false;
      cut.socket.onAnyOutgoing((event: string, msg: { index: number }) => {
        if (event === 'update:begin') sent.push('begin');
        if (event !== 'update:chunk') return;
        sent.push(msg.index);
        // The 4th chunk never leaves: the transport closes under it, as when a network link fails. The rest of the
        // window (4, 5, 6) is handed to the closing transport, which drops it.
        if (msg.index === 3 && !dropped) {
          dropped = true;
          cut.socket.io.engine.close();
        }
      });
      const uploaded = new Promise<{ bytes: number }>((resolve) => cut.events.once('uploaded', resolve));

      const { bytes } = await uploaded;
      gate.open();
      const done = await Promise.all([cut.done, other.done]);

      expect(Math.ceil(bytes / CHUNK)).toBe(7);
      // Nothing waited for an acknowledgement inside the window; after the reconnect, 0-2 (held) are not sent again.
      expect(sent).toEqual(['begin', 0, 1, 2, 3, 4, 5, 6, 'begin', 3, 4, 5, 6]);
      expect(done[0]).toEqual({ rounds: 1, finalVersion: 1 });
      const { store } = f.coordinator;
      expect(auditsOf(store, 'e2e', 'agent.disconnected', 'site-1')).toHaveLength(1);
      expect(auditsOf(store, 'e2e', 'agent.connected', 'site-1')).toHaveLength(2);
      expect(auditsOf(store, 'e2e', 'message.refused', 'site-1')).toEqual([]);
      expectCountedOnce(f);
    },
  );

  e2e(
    'whose commit was taken but whose acknowledgement was lost: the retry is recognised as delivered, not refused, and counts once',
    async ({ cohort }) => {
      const gate = latch();
      const { f, cut, other } = await twoSites(cohort, gate.promise);
      let commits = 0;
      cut.socket.onAnyOutgoing((event: string) => {
        // The commit leaves, then the link fails before its acknowledgement can come back.
        if (event === 'update:commit' && ++commits === 1) setImmediate(() => cut.socket.io.engine.close());
      });
      const refused: unknown[] = [];
      cut.events.on('refused', (r) => refused.push(r));
      const uploaded = new Promise<{ digest: string }>((resolve) => cut.events.once('uploaded', resolve));

      const { digest } = await uploaded;
      gate.open();
      await Promise.all([cut.done, other.done]);

      expect(refused).toEqual([]);
      expect(commits).toBe(1);
      const { store } = f.coordinator;
      expect(store.getParticipation('e2e', 1, 'site-1')).toMatchObject({ status: 'accepted', digest });
      expect(auditsOf(store, 'e2e', 'message.refused', 'site-1').map((e) => e.data.code)).toEqual(['DUPLICATE']);
      expectCountedOnce(f);
    },
  );
});
