/** Entry point of one worker thread that hosts many simulated institutions: real agents, one socket.io connection each, one TensorFlow.js per thread. */
import { isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { destination, pino } from 'pino';
import { selectBackend } from '../../node-agent/index.js';
import { startConfiguredAgent, type AgentProcessConfig, type ConfiguredAgent } from './configured-agent.js';

/** What the host gives each worker thread when it starts it. */
export interface WorkerData {
  /** The institutions this thread hosts. */
  configs: AgentProcessConfig[];
  /** One JSON log for every agent of the thread (each line names its agent). */
  logFile: string;
}

/** Host -> worker. */
export type WorkerCommand = { type: 'revoke'; institution: string; reason: string } | { type: 'stop' };

/** Worker -> host. */
export type WorkerMessage =
  | { type: 'started'; threadId: number; institutions: string[]; backend: string }
  | { type: 'revoked'; institution: string }
  | { type: 'done'; institution: string }
  | { type: 'fatal'; institution: string | null; message: string }
  | { type: 'stopped' };

if (isMainThread || !parentPort) throw new Error('worker-entry.ts runs inside a worker thread started by worker-host.ts');
const port = parentPort;
const send = (msg: WorkerMessage): void => port.postMessage(msg);

async function main(data: WorkerData): Promise<void> {
  const dest = destination({ dest: data.logFile, mkdir: true, sync: false });
  // TensorFlow.js loads once for the thread; every agent below finds it already selected.
  const backend = await selectBackend(data.configs[0]?.backend ?? 'auto');
  const sites = new Map<string, ConfiguredAgent>();
  for (const config of data.configs) {
    const site = startConfiguredAgent(config, (id) => pino({ name: `agent:${id}`, level: 'info' }, dest).child({ thread: threadId }));
    sites.set(site.id, site);
    site.agent.done.then(
      () => {
        site.agent.close();
        send({ type: 'done', institution: site.id });
      },
      (err: Error) => send({ type: 'fatal', institution: site.id, message: err.message }),
    );
  }
  send({ type: 'started', threadId, institutions: [...sites.keys()], backend: backend.name });

  port.on('message', (command: WorkerCommand) => {
    if (command.type === 'stop') {
      for (const site of sites.values()) site.agent.close();
      dest.flush();
      send({ type: 'stopped' });
      return;
    }
    const site = sites.get(command.institution);
    if (!site) return send({ type: 'fatal', institution: command.institution, message: 'not hosted by this worker' });
    site.revoke(command.reason).then(
      () => send({ type: 'revoked', institution: command.institution }),
      (err: Error) => send({ type: 'fatal', institution: command.institution, message: `revocation not delivered: ${err.message}` }),
    );
  });
}

main(workerData as WorkerData).catch((err: Error) => send({ type: 'fatal', institution: null, message: err.message }));
