/** Fault: an agent's process is killed while it trains; the round closes at its deadline without it, and the restarted agent rejoins. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect } from 'vitest';
import { publicIdentityOf, writeIdentityFile, writePublicIdentityFile, type Identity } from '../../crypto/index.js';
import { grantSimulatedConsent } from '../../simulations/simulate/consents.js';
import type { AgentProcessConfig, AgentProcessMessage } from '../../simulations/simulate/agent-process.js';
import { e2e, startAgent, type Cohort } from './helpers.js';
import { auditsOf } from './faults-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENT_ENTRY = fileURLToPath(new URL('../../simulations/simulate/agent-process.ts', import.meta.url));

/**
 * The simulator's agent entry point in its own process, as `cohort simulate` runs it (it loads its modules at once and
 * starts its agent when `start` sends the config); `next` resolves the next message of a kind.
 */
function spawnAgent(
  cohort: Cohort,
  config: AgentProcessConfig,
): { child: ChildProcess; start: () => void; next: (pred: (m: AgentProcessMessage) => boolean) => Promise<AgentProcessMessage> } {
  const child = fork(AGENT_ENTRY, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  cohort.defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const start = () => void child.send(config);
  const next = (pred: (m: AgentProcessMessage) => boolean) =>
    new Promise<AgentProcessMessage>((resolve, reject) => {
      const onMessage = (m: AgentProcessMessage) => {
        if (!pred(m)) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) => reject(new Error(`agent process exited (${code ?? signal}) before the awaited message`)));
    });
  return { child, start, next };
}

describe('an agent whose process is killed during training', () => {
  e2e(
    'is dropped at the round deadline (participation and audit) while the others publish, and rejoins the next round once restarted',
    async ({ cohort }) => {
      // Everyone trains with batch 1: the two in-process sites hold 100 rows, the crashing site 800 (a second or more of work to die in).
      const f = await cohort.federation(
        3,
        {
          rounds: 2,
          minParticipants: 2,
          joinGraceMs: 30_000,
          roundTimeoutMs: 12_000,
          train: { localEpochs: 1, batchSize: 1, learningRate: 0.01 },
        },
        'logreg',
        100,
      );
      const site3 = f.institutions[2] as Identity;
      const taken = new Set([...f.test, ...(f.parts[0] as number[]), ...(f.parts[1] as number[])]);
      const rows = Array.from({ length: 10_000 }, (_, i) => i)
        .filter((i) => !taken.has(i))
        .slice(0, 800);
      const keyFile = join(f.dir, 'keys', 'site-3.key.json');
      const coordinatorPublicFile = join(f.dir, 'keys', 'coordinator.pub.json');
      writeIdentityFile(keyFile, site3);
      writePublicIdentityFile(coordinatorPublicFile, publicIdentityOf(f.coordinatorIdentity));
      const consentFile = join(f.dir, 'sites', 'site-3', 'consent.json');
      grantSimulatedConsent(site3, f.coordinator.store.getFederation('e2e')!.manifest, consentFile, 3);
      const config: AgentProcessConfig = {
        url: f.coordinator.url,
        federation: 'e2e',
        keyFile,
        coordinatorPublicFile,
        data: { ref: { kind: 'mnist' }, rows },
        backend: 'wasm',
        seed: 3,
        logFile: join(f.dir, 'logs', 'site-3.log'),
        consentFile,
        auditLog: join(f.dir, 'sites', 'site-3', 'audit.jsonl'),
      };
      cohort.agents.push(startAgent(f, 0, { valFraction: 0 }), startAgent(f, 1, { valFraction: 0 }));
      const first = spawnAgent(cohort, config);
      first.start();

      const round1Closed = new Promise<void>((resolve) =>
        f.coordinator.runner.on('round:published', ({ round }) => round === 1 && resolve()),
      );
      const task = await first.next((m) => m.type === 'event' && m.name === 'task');
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      const second = spawnAgent(cohort, config);
      // Its agent starts once round 1 has closed without it (sooner, it would be sent round 1's task again).
      await round1Closed;
      second.start();
      const done = await second.next((m) => m.type === 'done');

      expect(task).toMatchObject({ payload: { round: 1, version: 0 } });
      expect(done).toMatchObject({ payload: { rounds: 2, finalVersion: 2 } });
      const { store } = f.coordinator;
      const round1 = store.getRound('e2e', 1)!;
      expect(round1).toMatchObject({ state: 'published', metrics: { participants: 2 } });
      expect(round1.closedAt! - round1.deadline!).toBeGreaterThanOrEqual(0); // it waited for the deadline
      expect(store.getParticipation('e2e', 1, 'site-3')).toMatchObject({
        status: 'dropped',
        code: 'DEADLINE_PASSED',
        message: 'no update before the round deadline',
      });
      expect(auditsOf(store, 'e2e', 'participant.dropped', 'site-3').map((e) => e.subject)).toEqual(['round:1']);
      expect(auditsOf(store, 'e2e', 'agent.disconnected', 'site-3').length).toBeGreaterThanOrEqual(1);
      expect(store.getRound('e2e', 2)).toMatchObject({ state: 'published', metrics: { participants: 3 } });
      expect(store.listParticipations('e2e', 2).map((p) => [p.institutionId, p.status])).toEqual([
        ['site-1', 'accepted'],
        ['site-2', 'accepted'],
        ['site-3', 'accepted'],
      ]);
    },
  );
});
