/** One simulated institution from its start message: the real agent, its key and consent files, and what a site does to revoke. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { SignedConsentSchema } from '../../protocol/index.js';
import { readIdentityFile, readPublicIdentityFile, signRevocation } from '../../crypto/index.js';
import { revocationPath } from '../../node-agent/mods/consent-guard.js';
import { attackFor } from './byzantine-sites.js';
import { byzantineMod } from './byzantine.js';
import { createAgent, dataSourceFor, type Agent, type BackendPreference, type DataRef } from '../../node-agent/index.js';

/** What the simulator tells one agent (a child process or an agent in a worker thread) when it starts. */
export interface AgentProcessConfig {
  url: string;
  federation: string;
  keyFile: string;
  coordinatorPublicFile: string;
  /** The data set (file paths absolute) and the site's rows in it (indices into the data set as loaded). */
  data: { ref: DataRef; rows: number[] };
  backend: BackendPreference;
  seed: number;
  logFile: string;
  consentFile: string;
  auditLog: string;
  /** The source address of the agent's connection (a loopback address of its own, as if each site were its own host). */
  localAddress?: string;
  /** Simulations of attacks only: the site is malicious and sends this attack's update (byzantine-sites.ts). */
  byzantine?: string;
  /** A user model: the site's copy of its model.json (the base it holds). */
  modelFile?: string;
}

export interface ConfiguredAgent {
  readonly id: string;
  readonly agent: Agent;
  /** Signs a revocation of the site's consent, keeps it beside the consent file and tells the coordinator. */
  revoke(reason: string): Promise<void>;
}

/**
 * Starts the real agent (node-agent's createAgent) that a start message describes; `logFor` gets the institution's id.
 * @example const { agent } = startConfiguredAgent(config, (id) => pino({ name: `agent:${id}` })); await agent.done;
 */
export function startConfiguredAgent(config: AgentProcessConfig, logFor: (institution: string) => Logger): ConfiguredAgent {
  const identity = readIdentityFile(config.keyFile);
  const log = logFor(identity.id);
  const data = dataSourceFor(config.data.ref, config.data.rows);
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
    ...(config.modelFile ? { modelFile: config.modelFile } : {}),
    ...(config.byzantine ? { mods: [byzantineMod(attackFor(config.byzantine, config.seed).transform)] } : {}),
    ...(config.localAddress ? { socketOptions: { localAddress: config.localAddress } as Partial<ManagerOptions & SocketOptions> } : {}),
  });
  return {
    id: identity.id,
    agent,
    async revoke(reason) {
      // What `cohort consent revoke` does at a site: sign a revocation and keep it beside the consent.
      const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(config.consentFile, 'utf8')));
      const revocation = signRevocation(consent, reason, identity.signSecretKey);
      writeFileSync(revocationPath(config.consentFile), JSON.stringify(revocation, null, 2));
      await agent.presentRevocation(revocation);
    },
  };
}
