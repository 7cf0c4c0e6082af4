/** Entry point of one simulated institution: a real agent in its own process, driven over IPC by the simulator. */
import { destination, pino } from 'pino';
import { readFileSync, writeFileSync } from 'node:fs';
import { SignedConsentSchema } from '../../protocol/index.js';
import { readIdentityFile, readPublicIdentityFile, signRevocation } from '../../crypto/index.js';
import { revocationPath } from '../../node-agent/mods/consent-guard.js';
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
  consentFile: string;
  auditLog: string;
}

/** Simulator -> agent process, after the start message. */
export type AgentProcessCommand = { type: 'revoke'; reason: string };

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
    consentFile: config.consentFile,
    auditLog: config.auditLog,
    log,
  });
  process.on('message', (command: AgentProcessCommand) => {
    if (command.type !== 'revoke') return;
    // What `cohort consent revoke` does at a site: sign a revocation and keep it beside the consent.
    const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(config.consentFile, 'utf8')));
    const revocation = signRevocation(consent, command.reason, identity.signSecretKey);
    writeFileSync(revocationPath(config.consentFile), JSON.stringify(revocation, null, 2));
    agent.presentRevocation(revocation).then(
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
