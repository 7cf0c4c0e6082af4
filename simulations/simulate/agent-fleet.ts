/** The simulated institutions' agents, wherever they run: one child process each, or many per worker thread. */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { AgentProcessCommand, AgentProcessMessage } from './agent-process.js';
import type { AgentProcessConfig } from './configured-agent.js';
import { startWorkerHost, type ThreadPlacement } from './worker-host.js';
import { siblingEntry } from './entry.js';

/** Above this many institutions `cohort simulate` hosts agents in worker threads unless told otherwise. */
export const WORKER_THRESHOLD = 20;

/** Where the agents of a run ran. */
export type FleetPlacement =
  { mode: 'processes'; processes: number } | { mode: 'worker-threads'; workers: number; threads: ThreadPlacement[] };

export interface AgentFleet {
  /** Resolves once every agent has been started (they connect on their own). */
  readonly started: Promise<FleetPlacement>;
  revoke(institution: string, reason: string): void;
  close(): Promise<void>;
}

/**
 * The worker threads a run uses: `requested` when given (0 = one child process per agent), else one per
 * core when there are more than WORKER_THRESHOLD institutions, else 0.
 * @example resolveWorkers(undefined, 1000) // availableParallelism(), e.g. 2
 */
export function resolveWorkers(requested: number | undefined, institutions: number): number {
  if (requested !== undefined) return Math.min(requested, institutions);
  return institutions > WORKER_THRESHOLD ? Math.min(availableParallelism(), institutions) : 0;
}

/**
 * Starts one agent per config: in `workers` worker threads, or (workers = 0) one child process each.
 * @example const fleet = startAgentFleet({ sites: [{ id: 'institution-1', config }], workers: 2, logDir, onFatal: (id, m) => console.error(id, m) }); await fleet.started;
 */
export function startAgentFleet(opts: {
  sites: { id: string; config: AgentProcessConfig }[];
  workers: number;
  logDir: string;
  onFatal: (institution: string | null, message: string) => void;
}): AgentFleet {
  const sites = opts.sites.map(({ id, config }, i) => ({ id, config: { ...config, ...sourceAddress(config.url, i) } }));
  if (opts.workers > 0) {
    const host = startWorkerHost({
      configs: sites.map((s) => s.config),
      workers: opts.workers,
      logDir: opts.logDir,
      onFatal: opts.onFatal,
    });
    const started = host.started.then((threads): FleetPlacement => ({ mode: 'worker-threads', workers: threads.length, threads }));
    started.catch(() => undefined);
    return { started, revoke: (id, reason) => host.revoke(id, reason), close: () => host.close() };
  }
  const agentEntry = siblingEntry(import.meta.url, 'agent-process');
  const children = new Map<string, ChildProcess>();
  sites.forEach(({ id, config }) => {
    const child = fork(fileURLToPath(agentEntry.url), [], {
      execArgv: agentEntry.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.set(id, child);
    child.on('message', (msg: AgentProcessMessage) => {
      if (msg.type === 'fatal') opts.onFatal(id, msg.message);
    });
    child.send(config);
  });
  return {
    started: Promise.resolve({ mode: 'processes', processes: children.size }),
    revoke(id, reason) {
      children.get(id)?.send({ type: 'revoke', reason } satisfies AgentProcessCommand);
    },
    async close() {
      for (const child of children.values()) if (child.exitCode === null) child.kill();
    },
  };
}

/**
 * On Linux every address of 127.0.0.0/8 is loopback, so each simulated site connects from one of its own
 * (127.0.0.2, 127.0.0.3, ...), as separate hosts would: the coordinator's per-address limits (connections and
 * messages before authentication) then apply per site, as in a deployment, instead of to the whole simulation.
 * Elsewhere (macOS has only 127.0.0.1) the sites share 127.0.0.1.
 * @example sourceAddress('http://127.0.0.1:7400', 0) // { localAddress: '127.0.0.2' } on Linux
 */
export function sourceAddress(url: string, index: number): { localAddress?: string } {
  if (process.platform !== 'linux' || new URL(url).hostname !== '127.0.0.1') return {};
  const k = index + 1; // 127.0.0.1 stays the coordinator's
  return { localAddress: `127.${Math.floor(k / 65_536) % 256}.${Math.floor(k / 256) % 256}.${k % 256}` };
}
