/** Entry point of one simulated institution: a real agent in its own process, driven over IPC by the simulator. */
import { destination, pino } from 'pino';
import { readIdentityFile, readPublicIdentityFile } from '../../crypto/index.js';
import { createAgent, csvSource, mnistSource, type AgentEventMap, type BackendPreference } from '../../node-agent/index.js';

export interface AgentProcessConfig {
  url: string;
  federation: string;
  keyFile: string;
  coordinatorPublicFile: string;
  data: { kind: 'mnist'; rows: number[] } | { kind: 'csv'; path: string; label: string; rows: number[] };
  backend: BackendPreference;
  seed: number;
  logFile: string;
}

export type AgentProcessMessage =
  | { type: 'event'; name: keyof AgentEventMap; payload: unknown }
  | { type: 'done'; payload: unknown }
  | { type: 'fatal'; message: string };

const send = (msg: AgentProcessMessage): void => {
  process.send?.(msg);
};

process.once('message', (raw) => {
  const config = raw as AgentProcessConfig;
  const identity = readIdentityFile(config.keyFile);
  const log = pino({ name: `agent:${identity.id}`, level: 'info' }, destination({ dest: config.logFile, mkdir: true, sync: false }));
  const data = config.data.kind === 'mnist' ? mnistSource(config.data.rows) : csvSource(config.data.path, config.data.label, config.data.rows);
  const agent = createAgent({
    coordinatorUrl: config.url,
    federation: config.federation,
    identity,
    coordinator: readPublicIdentityFile(config.coordinatorPublicFile),
    data,
    backend: config.backend,
    seed: config.seed,
    log,
  });
  for (const name of ['welcome', 'task', 'trained', 'uploaded', 'refused', 'declined'] as const) {
    agent.events.on(name, (payload: unknown) => send({ type: 'event', name, payload }));
  }
  agent.done.then(
    (payload) => {
      send({ type: 'done', payload });
      agent.close();
      log.flush();
      setTimeout(() => process.exit(0), 100);
    },
    (err: Error) => {
      send({ type: 'fatal', message: err.message });
      log.flush();
      setTimeout(() => process.exit(1), 100);
    },
  );
  process.on('disconnect', () => process.exit(0));
});
