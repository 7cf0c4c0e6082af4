/** Fault: a real agent slower than the round's deadline; its late update is refused with DEADLINE_PASSED, audited on both sides, and it takes part in the next round. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { e2e, startAgent } from './helpers.js';
import { auditsOf, shiftTrainer } from './faults-helpers.js';

describe('a straggler', () => {
  e2e(
    'whose round-1 update arrives while round 2 already runs is refused with DEADLINE_PASSED, audited by both sides, and contributes to round 2',
    async ({ cohort }) => {
      const f = await cohort.federation(
        3,
        {
          rounds: 2,
          minParticipants: 2,
          joinGraceMs: 20_000,
          roundTimeoutMs: 3_000,
          train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 },
        },
        'logreg',
        60,
      );
      const round2 = new Promise<void>((resolve) => f.coordinator.runner.on('round:started', ({ round }) => round === 2 && resolve()));
      // Site 3 finishes round 1 only once round 2 has started (well after round 1's deadline); round 2 at once.
      const slow = startAgent(f, 2, { valFraction: 0, trainer: shiftTrainer(0.02, (round) => (round === 1 ? round2 : Promise.resolve())) });
      cohort.agents.push(
        startAgent(f, 0, { valFraction: 0, trainer: shiftTrainer(0.01) }),
        startAgent(f, 1, { valFraction: 0, trainer: shiftTrainer(0.01) }),
        slow,
      );
      const refused: unknown[] = [];
      const uploaded: number[] = [];
      slow.events.on('refused', (r) => refused.push(r));
      slow.events.on('uploaded', ({ round }) => uploaded.push(round));

      await Promise.all(cohort.agents.map((a) => a.done));

      expect(refused).toEqual([
        {
          round: 1,
          code: 'DEADLINE_PASSED',
          message: expect.stringMatching(/^round 1's deadline passed at .*: it closed without site-3's update$/),
        },
      ]);
      expect(uploaded).toEqual([2]);
      const { store } = f.coordinator;
      expect(store.getRound('e2e', 1)).toMatchObject({ state: 'published', metrics: { participants: 2 } });
      expect(store.getParticipation('e2e', 1, 'site-3')).toMatchObject({ status: 'dropped', code: 'DEADLINE_PASSED' });
      expect(auditsOf(store, 'e2e', 'participant.dropped', 'site-3').map((e) => e.subject)).toEqual(['round:1']);
      expect(auditsOf(store, 'e2e', 'message.refused', 'site-3').map((e) => [e.data.event, e.data.code])).toEqual([
        ['update:begin', 'DEADLINE_PASSED'],
      ]);
      expect(store.getRound('e2e', 2)).toMatchObject({ state: 'published', metrics: { participants: 3 } });
      expect(store.getParticipation('e2e', 2, 'site-3')).toMatchObject({ status: 'accepted' });
      // The site's own signed log says what happened to its round-1 update.
      const siteLog = readFileSync(join(f.dir, 'sites', 'site-3', 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map(
          (line) => JSON.parse((JSON.parse(line) as { body: string }).body) as { kind: string; data: { round?: number; code?: string } },
        );
      expect(siteLog.filter((e) => e.kind === 'update.failed').map((e) => [e.data.round, e.data.code])).toEqual([[1, 'DEADLINE_PASSED']]);
    },
  );
});
