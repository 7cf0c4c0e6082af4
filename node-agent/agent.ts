/** A node agent: checks every task against its own consent and the coordinator's signature, trains or evaluates on private rows, returns sealed results. */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import {
  CohortError,
  DEFAULT_CHUNK_BYTES,
  type ErrorCode,
  EvaluateTaskSchema,
  FederationCompleteSchema,
  FederationFailedSchema,
  RoundClosedSchema,
  RoundTaskSchema,
  toCohortError,
  type FederationComplete,
  type SignedRevocation,
  type Welcome,
} from '../protocol/index.js';
import type { Identity, PublicIdentity } from '../crypto/index.js';
import { backendForSpec, selectBackend, type BackendPreference, type SelectedBackend } from './train/index.js';
import { createSiteBase } from './site-base.js';
import type { DataSource } from './data-source.js';
import { siteData } from './site-data.js';
import type { AgentEventMap } from './events.js';
import { readConsentState } from './mods/consent-guard.js';
import { chain, type Mod } from './mods/chain.js';
import { consentBeforeSending, consentGuard, type TaskConsentOptions } from './mods/task-consent.js';
import { oncePerRound } from './mods/once-per-round.js';
import { dpClip } from './mods/dp-clip.js';
import { privacyBudget } from './mods/privacy-budget.js';
import { secureAggregation } from './mods/secure-aggregation-mod.js';
import { compression } from './mods/compress.js';
import { trainStep, type CustomTrainer, type SiteTraining } from './task/train-step.js';
import { validation } from './task/validation.js';
import { sendUpdate } from './task/send-update.js';
import { evaluationStep } from './task/evaluate.js';
import { presentReady } from './task/present-ready.js';
import { openAgentAuditLog, type AgentAuditLog } from './audit-log.js';
import { ACK_TIMEOUT_MS, connect, type AgentSocket } from './transport/connection.js';
import { attachStats, type Table } from './analytics/index.js';

export type { AgentEventMap } from './events.js';
export type { CustomTrainer } from './task/train-step.js';

export interface AgentOptions {
  coordinatorUrl: string;
  federation: string;
  identity: Identity;
  /** The coordinator's public identity (its signing key pins the server; its box key is what updates are sealed to). */
  coordinator: PublicIdentity;
  data: DataSource;
  /** The institution's signed consent (a revocation is read from `<name>.revocation.json` beside it, at every task). */
  consentFile?: string;
  /** The agent's own audit log (JSON Lines, hash-chained, signed with the institution key); none when absent. */
  auditLog?: string;
  backend?: BackendPreference;
  /** Share of the site's rows kept aside (fixed across rounds) for validation metrics. */
  valFraction?: number;
  seed?: number;
  log?: Logger;
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Mods added to the site's own task chain, applied to the trained update after DP clipping and before validation,
   * the consent re-check and sealing (simulations inject a Byzantine site's attack here: simulations/simulate/byzantine.ts).
   */
  mods?: Mod[];
  /** Replaces local training (load tests, benches): the update it returns is still clipped, sealed and uploaded as usual. */
  trainer?: CustomTrainer;
  /**
   * The site's copy of a user model (model.json of a TF.js Layers model): where its frozen (and FedBN-local initial)
   * tensors come from. Checked against the federation spec's `layers.baseHash` at welcome and before every task.
   */
  modelFile?: string;
  /** The site's table for analytics queries (node-agent/analytics): answered when the consent allows analytics; refused when absent. */
  statsTable?: () => Table;
  /** Upload chunks sent ahead of their acknowledgements (default 8; 1 is stop-and-wait). */
  uploadWindow?: number;
}

export interface Agent {
  readonly events: EventEmitter<AgentEventMap>;
  readonly socket: AgentSocket;
  /** Resolves once connected, authenticated and ready for tasks; rejects on a fatal refusal. */
  readonly ready: Promise<void>;
  /** Resolves when the coordinator announces the federation complete; rejects on a fatal error, or FEDERATION_FAILED when it announces the federation failed. */
  readonly done: Promise<FederationComplete>;
  /** Tells the coordinator now that the institution revoked its consent (the agent refuses tasks either way). */
  presentRevocation(revocation: SignedRevocation): Promise<void>;
  close(): void;
}

/**
 * Starts an agent.
 * @example const agent = createAgent({ coordinatorUrl, federation, identity, coordinator, data: mnistSource(rows), consentFile }); await agent.done;
 */
export function createAgent(opts: AgentOptions): Agent {
  const log = opts.log ?? pino({ name: `agent:${opts.identity.id}` });
  const events = new EventEmitter<AgentEventMap>();
  const data = siteData(opts.data, opts.valFraction ?? 0.1, opts.seed ?? 0);
  const audit: AgentAuditLog = opts.auditLog
    ? openAgentAuditLog(opts.auditLog, opts.identity, opts.federation)
    : { append: () => undefined };
  const consent = () => readConsentState(opts.consentFile, opts.identity.signPublicKey);
  const logBackend = (m: string, level: 'debug' | 'info' | 'warn' = 'info') => log[level](m);
  let welcome: Welcome | undefined;
  let backend: SelectedBackend | undefined;
  const siteBase = createSiteBase(opts.modelFile);
  let busy: Promise<void> = Promise.resolve();
  let revocationPresented = false;
  let sessionReady = deferred<void>();
  const ready = deferred<void>();
  const done = deferred<FederationComplete>();

  const socket = connect({
    url: opts.coordinatorUrl,
    federation: opts.federation,
    identity: opts.identity,
    coordinatorSignPublicKey: opts.coordinator.signPublicKey,
    socketOptions: opts.socketOptions,
    log: (level, msg) => log[level](msg),
    onFatal: (err) => {
      log.error({ code: err.code }, err.message);
      ready.reject(err);
      done.reject(err);
      sessionReady.reject(err);
    },
    onWelcome: (msg) => {
      welcome = msg;
      void (async () => {
        try {
          backend ??= await selectBackend(opts.backend ?? 'auto', logBackend);
          const presented = await presentReady(
            msg,
            {
              socket,
              backend,
              rows: (spec) => data.load(spec),
              siteBase,
              consent,
              onConsent: (state) => void (revocationPresented = state.revocation !== undefined),
              description: opts.data.description,
            },
            { log, audit },
          );
          if (!presented) return;
          events.emit('welcome', msg);
          sessionReady.resolve();
          ready.resolve();
        } catch (cause) {
          const err = toCohortError(cause);
          log.error({ code: err.code }, `cannot get ready: ${err.message}`);
          ready.reject(err);
          done.reject(err);
        }
      })();
    },
  });

  socket.on('disconnect', (reason) => {
    log.warn({ reason }, 'disconnected from the coordinator');
    // A session that never got ready keeps its promise, so whatever waits on it (an upload) resumes with the next one.
    if (sessionReady.settled) {
      sessionReady = deferred<void>();
    }
  });
  // Validated like every inbound message: a malformed "complete" must not end the agent.
  socket.on('round:closed', (raw) => {
    const parsed = RoundClosedSchema.safeParse(raw);
    if (!parsed.success) return void log.warn('malformed round:closed ignored');
    events.emit('round:closed', parsed.data);
  });
  socket.on('federation:complete', (raw) => {
    const parsed = FederationCompleteSchema.safeParse(raw);
    if (!parsed.success) return void log.warn('malformed federation:complete ignored');
    const msg = parsed.data;
    log.info(msg, 'federation complete');
    audit.append('federation.complete', { ...msg });
    events.emit('complete', msg);
    done.resolve(msg);
  });
  socket.on('federation:failed', (raw) => {
    const parsed = FederationFailedSchema.safeParse(raw);
    if (!parsed.success) return void log.warn('malformed federation:failed ignored');
    const { reason } = parsed.data;
    log.error(`federation failed: ${reason}`);
    audit.append('federation.failed', { reason });
    const err = new CohortError('FEDERATION_FAILED', `federation ${opts.federation} failed: ${reason}`);
    ready.reject(err);
    done.reject(err);
  });
  attachStats(socket, { ...opts, consent, study: () => welcome?.study, table: opts.statsTable }, audit, (m) => log.info(m));

  socket.on('round:task', (raw) => {
    busy = busy.then(() => runTask(raw)).catch((err: unknown) => log.error({ err }, 'task failed'));
  });
  socket.on('round:evaluate', (raw) => {
    busy = busy.then(() => runEvaluation(raw)).catch((err: unknown) => log.error({ err }, 'evaluation failed'));
  });

  const decline = async (round: number, code: ErrorCode, message: string): Promise<void> => {
    log.warn({ round, code }, `declining: ${message}`);
    audit.append('task.refused', { round, code, message });
    events.emit('declined', { round, code, message });
    await socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('round:decline', { round, code, message })
      .catch(() => undefined);
  };

  const consentChecks: TaskConsentOptions = {
    federation: opts.federation,
    coordinatorSignPublicKey: opts.coordinator.signPublicKey,
    consent,
    onRevocation: (revocation) => {
      if (revocationPresented) return;
      revocationPresented = true;
      void api.presentRevocation(revocation).catch((err: Error) => log.warn(`revocation not delivered: ${err.message}`));
    },
  };
  const site: SiteTraining = {
    rows: (spec) => data.load(spec),
    backend: async () => backend ?? (await selectBackend(opts.backend ?? 'auto')),
    backendFor: async (spec) => backendForSpec(spec, await site.backend(), logBackend),
    siteBase,
    events,
    trainer: opts.trainer,
    seed: opts.seed ?? 0,
    augment: opts.data.augment,
  };
  /** A training task's way through the site, outermost first: the order in which the steps see the task. */
  const pipeline = chain(
    [
      consentGuard(consentChecks),
      oncePerRound(),
      sendUpdate({
        socket,
        federation: opts.federation,
        identity: opts.identity,
        coordinatorBoxPublicKey: opts.coordinator.boxPublicKey,
        chunkBytes: () => welcome?.chunkBytes ?? DEFAULT_CHUNK_BYTES,
        window: opts.uploadWindow,
        whenSessionReady: () => sessionReady.promise,
        events,
      }),
      privacyBudget({ consentFile: opts.consentFile, consent }),
      consentBeforeSending(consentChecks),
      secureAggregation({ federation: opts.federation, identity: opts.identity, socket, log }),
      compression({ seed: opts.seed ?? 0 }),
      validation(site),
      ...(opts.mods ?? []),
      dpClip(),
    ],
    trainStep(site),
  );

  async function runTask(raw: unknown): Promise<void> {
    const parsed = RoundTaskSchema.safeParse(raw);
    if (!parsed.success) return void log.error({ issues: parsed.error.issues.slice(0, 3) }, 'malformed task ignored');
    const { round } = parsed.data;
    const outcome = await pipeline(parsed.data, { log, audit });
    if (outcome.kind === 'declined') return decline(round, outcome.code, outcome.message);
    if (outcome.kind !== 'failed') return;
    const { code, message } = outcome.error;
    audit.append('update.failed', { round, code, message });
    log.error({ round, code }, `update not delivered: ${message}`);
    events.emit('refused', { round, code, message });
  }

  const evaluateCandidate = evaluationStep({
    site,
    socket,
    consent: consentChecks,
    decline: (round, r) => decline(round, r.code, r.message),
  });
  /** Measures a candidate model on the site's fixed validation rows and reports the numbers (never rows). */
  async function runEvaluation(raw: unknown): Promise<void> {
    const parsed = EvaluateTaskSchema.safeParse(raw);
    if (!parsed.success) return void log.error({ issues: parsed.error.issues.slice(0, 3) }, 'malformed evaluation task ignored');
    await evaluateCandidate(parsed.data, { log, audit });
  }

  const api: Agent = {
    events,
    socket,
    ready: ready.promise,
    done: done.promise,
    async presentRevocation(revocation) {
      revocationPresented = true;
      audit.append('consent.revoked', { consentHash: revocation.body.consentHash, reason: revocation.body.reason });
      await sessionReady.promise;
      const res = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('consent:revoke', { revocation });
      if (!res.ok) throw new CohortError(res.error.code, res.error.message);
    },
    close() {
      socket.io.reconnection(false);
      socket.disconnect();
    },
  };
  return api;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits (yet) is not an unhandled one: whoever awaits the promise still sees it.
  promise.catch(() => undefined);
  const d: Deferred<T> = {
    promise,
    resolve: (value) => ((d.settled = true), resolve(value)),
    reject: (err) => ((d.settled = true), reject(err)),
    settled: false,
  };
  return d;
}
