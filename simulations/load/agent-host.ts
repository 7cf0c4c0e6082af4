/** The load run's agent process: hosts every simulated site in a few worker threads, apart from the coordinator's process. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LoadSite, LoadWorkerMessage } from './load-protocol.js';
import type { LoadWorkerData } from './load-worker.js';

/** Driver -> host: the start message, then `stop`. */
export type AgentHostCommand =
  { type: 'start'; url: string; federation: string; coordinatorPublicFile: string; sites: LoadSite[]; workers: number } | { type: 'stop' };

/** A thread's bootstrap: on Node 20 a worker's own entry module gets no tsx hooks, so the thread imports it through tsx's API (as simulations/simulate/worker-host.ts does). */
function tsxBootstrap(entry: URL): string {
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const target = JSON.stringify(entry.href);
  return `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${target}, ${target}))`;
}

const send = (msg: LoadWorkerMessage): void => void process.send?.(msg);
const threads: Worker[] = [];

process.on('message', (command: AgentHostCommand) => {
  if (command.type === 'stop') {
    let pending = threads.length;
    const exit = () => setTimeout(() => process.exit(0), 100);
    if (pending === 0) return exit();
    for (const worker of threads) {
      worker.on('message', (m: LoadWorkerMessage) => m.type === 'stopped' && --pending === 0 && exit());
      worker.postMessage({ type: 'stop' });
    }
    setTimeout(() => process.exit(0), 3_000);
    return;
  }
  const groups: LoadSite[][] = Array.from({ length: Math.max(1, command.workers) }, () => []);
  command.sites.forEach((site, i) => groups[i % groups.length]?.push(site));
  const bootstrap = tsxBootstrap(new URL('./load-worker.ts', import.meta.url));
  for (const sites of groups) {
    const data: LoadWorkerData = {
      url: command.url,
      federation: command.federation,
      coordinatorPublicFile: command.coordinatorPublicFile,
      sites,
    };
    const worker = new Worker(bootstrap, { eval: true, workerData: data });
    worker.on('message', (m: LoadWorkerMessage) => m.type !== 'stopped' && send(m));
    worker.on('error', (err) => send({ type: 'fatal', institution: null, message: `worker failed: ${err.message}` }));
    threads.push(worker);
  }
});
process.on('disconnect', () => process.exit(0));
