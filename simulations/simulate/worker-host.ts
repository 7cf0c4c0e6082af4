/** Hosts simulated institutions in worker threads: many real agents per thread, dealt out round-robin, TypeScript loaded through tsx's API. */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AgentProcessConfig } from './configured-agent.js';
import type { WorkerCommand, WorkerData, WorkerMessage } from './worker-entry.js';
import { siblingEntry } from './entry.js';

export interface WorkerHostOptions {
  configs: AgentProcessConfig[];
  /** Worker threads to start (at most one per institution). */
  workers: number;
  /** Folder of the per-thread agent logs (`agents-worker-<k>.log`). */
  logDir: string;
  /** An agent (or a whole thread, institution null) stopped with an error. */
  onFatal?: (institution: string | null, message: string) => void;
}

/** Which thread hosts which institutions: the proof that agents ran in worker threads. */
export interface ThreadPlacement {
  worker: number;
  threadId: number;
  backend: string;
  institutions: string[];
}

export interface WorkerHost {
  /** Resolves once every thread has started its agents (they then connect on their own). */
  readonly started: Promise<ThreadPlacement[]>;
  /** The institution signs a revocation of its consent and tells the coordinator. */
  revoke(institution: string, reason: string): void;
  /** Closes every agent and ends every thread. */
  close(): Promise<void>;
}

/**
 * Deals `configs` out round-robin to `workers` threads and starts them.
 * @example const host = startWorkerHost({ configs, workers: 2, logDir: 'runs/x/logs' }); await host.started;
 */
export function startWorkerHost(opts: WorkerHostOptions): WorkerHost {
  const count = Math.max(1, Math.min(opts.workers, opts.configs.length));
  const groups: AgentProcessConfig[][] = Array.from({ length: count }, () => []);
  opts.configs.forEach((config, i) => groups[i % count]?.push(config));
  const bootstrap = siblingEntry(import.meta.url, 'worker-entry').workerBootstrap;
  const hostOf = new Map<string, Worker>();
  const threads: Worker[] = [];
  const starts: Promise<ThreadPlacement>[] = [];

  groups.forEach((configs, k) => {
    const data: WorkerData = { configs, logFile: join(opts.logDir, `agents-worker-${k + 1}.log`) };
    const worker = new Worker(bootstrap, { eval: true, workerData: data, stdout: false, stderr: false });
    threads.push(worker);
    starts.push(
      new Promise<ThreadPlacement>((resolve, reject) => {
        worker.on('message', (msg: WorkerMessage) => {
          if (msg.type === 'started') {
            msg.institutions.forEach((id) => hostOf.set(id, worker));
            resolve({ worker: k + 1, threadId: msg.threadId, backend: msg.backend, institutions: msg.institutions });
          } else if (msg.type === 'fatal') {
            if (msg.institution === null) reject(new Error(`worker ${k + 1}: ${msg.message}`));
            opts.onFatal?.(msg.institution, msg.message);
          }
        });
        worker.once('error', (err) => {
          reject(err);
          opts.onFatal?.(null, `worker ${k + 1} failed: ${err.message}`);
        });
        worker.once('exit', (code) => reject(new Error(`worker ${k + 1} exited with code ${code} before it started its agents`)));
      }),
    );
  });
  const started = Promise.all(starts);
  started.catch(() => undefined);

  return {
    started,
    revoke(institution, reason) {
      hostOf.get(institution)?.postMessage({ type: 'revoke', institution, reason } satisfies WorkerCommand);
    },
    async close() {
      await Promise.all(
        threads.map(
          (worker) =>
            new Promise<void>((resolve) => {
              const end = (): void =>
                void worker.terminate().then(
                  () => resolve(),
                  () => resolve(),
                );
              const timer = setTimeout(end, 2_000);
              worker.on('message', (msg: WorkerMessage) => {
                if (msg.type !== 'stopped') return;
                clearTimeout(timer);
                setTimeout(end, 100); // let the log stream write what it holds
              });
              worker.postMessage({ type: 'stop' } satisfies WorkerCommand);
            }),
        ),
      );
    },
  };
}
