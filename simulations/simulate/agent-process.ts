/** Entry point of one simulated institution: a real agent in its own process, driven over IPC by the simulator. */
import { destination, pino, type Logger } from 'pino';
import type { AgentEventMap } from '../../node-agent/index.js';
import { startConfiguredAgent, type AgentProcessConfig } from './configured-agent.js';

export type { AgentProcessConfig } from './configured-agent.js';

/** Simulator -> agent process, after the start message. */
export type AgentProcessCommand = { type: 'revoke'; reason: string };

export type AgentProcessMessage =
  { type: 'event'; name: keyof AgentEventMap; payload: unknown } | { type: 'done'; payload: unknown } | { type: 'fatal'; message: string };

const send = (msg: AgentProcessMessage): void => {
  process.send?.(msg);
};

process.once('message', (raw) => {
  const config = raw as AgentProcessConfig;
  let log: Logger | undefined;
  const site = startConfiguredAgent(
    config,
    (id) => (log = pino({ name: `agent:${id}`, level: 'info' }, destination({ dest: config.logFile, mkdir: true, sync: false }))),
  );
  const { agent } = site;
  process.on('message', (command: AgentProcessCommand) => {
    if (command.type !== 'revoke') return;
    site.revoke(command.reason).then(
      () => send({ type: 'event', name: 'declined', payload: { round: 0, code: 'CONSENT_REVOKED', message: command.reason } }),
      (err: Error) => send({ type: 'fatal', message: `revocation not delivered: ${err.message}` }),
    );
  });
  for (const name of ['welcome', 'task', 'trained', 'uploaded', 'evaluated', 'refused', 'declined'] as const) {
    agent.events.on(name, (payload: unknown) => send({ type: 'event', name, payload }));
  }
  agent.done.then(
    (payload) => {
      send({ type: 'done', payload });
      agent.close();
      log?.flush();
      setTimeout(() => process.exit(0), 100);
    },
    (err: Error) => {
      send({ type: 'fatal', message: err.message });
      log?.flush();
      setTimeout(() => process.exit(1), 100);
    },
  );
  process.on('disconnect', () => process.exit(0));
});
