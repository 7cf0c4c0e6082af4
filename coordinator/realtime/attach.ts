/** Socket.io handlers: version check and challenge authentication at connect, then validated, audited agent events. */
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  AuthResponseSchema,
  CLIENT_EVENTS,
  CohortError,
  ConnectAuthSchema,
  ConsentRevokeSchema,
  EvaluationReportSchema,
  DeclineSchema,
  PROTOCOL_VERSION,
  ReadySchema,
  SecAggAdvertiseSchema,
  SecAggShareKeysSchema,
  SecAggUnmaskSchema,
  SecAggConsistencySchema,
  UploadBeginSchema,
  UploadChunkSchema,
  UploadCommitSchema,
  toCohortError,
  type ClientToServerEvents,
  type RoundClosed,
  type EvaluateTask,
  type RoundTask,
} from '../../protocol/index.js';
import { fromBase64, newChallenge, signServerProof, toBase64, verifyChallenge, type Identity } from '../../crypto/index.js';
import { storageUnavailable, type Store } from '../store/index.js';
import type { Outbox, RoundRunner } from '../rounds/round-runner.js';
import { UploadTable } from './uploads.js';
import { RealtimeLimiter, approxBytes, type RateLimits } from './rate-limit.js';
import { guarded, quoteValue } from './guard.js';
import { AddressAudit, type AddressEvent } from './address-audit.js';
import type { CohortServer, CohortSocket } from './types.js';

export interface RealtimeDeps {
  io: CohortServer;
  store: Store;
  identity: Identity;
  federation: string;
  log: Logger;
  chunkBytes: number;
  maxUploadBytes: number;
  /** How long a new connection has to answer the challenge. */
  authTimeoutMs?: number;
  /** Connection, message and byte rates per institution (DEFAULT_RATE_LIMITS when absent). */
  limits?: Partial<RateLimits>;
}

const AGENTS_ROOM = 'agents';

/** The socket seen without its event typing, for the one generic handler wrapper. */
interface LooseSocket {
  on(event: string, listener: (...args: unknown[]) => void): void;
}

/**
 * Wires the socket.io server to a round runner. Returns the Outbox the runner sends through.
 * @example const outbox = attachRealtime(deps, () => runner)
 */
export function attachRealtime(deps: RealtimeDeps, runner: () => RoundRunner): Outbox & { close(): void } {
  const { io, store, log } = deps;
  const sessions = new Map<string, CohortSocket>();
  const uploads = new UploadTable(deps.maxUploadBytes);
  // Best effort: with the database locked or the disk full the entry is lost (and logged), not the process.
  const audit = (kind: string, actor: string, data: Record<string, unknown>): void => {
    try {
      store.appendAudit({ federationId: deps.federation, kind, actor, subject: null, data });
    } catch (cause) {
      log.error({ kind, actor, err: storageUnavailable(cause)?.message ?? String(cause) }, 'audit entry not written');
    }
  };
  // Refusals for rate are written once per institution, limit and window, with their count: a flood cannot flood the audit log.
  const limiter = new RealtimeLimiter(
    deps.limits,
    (actor, summary) => audit('rate.limited', actor, { ...summary }),
    (actor, error) => log.warn({ actor, code: error.code }, error.message),
  );
  // Before authentication nobody has proved an identity: entries go under the address, one (and a summary) per window.
  const byAddress = new AddressAudit(limiter.limits.auditWindowMs, audit);
  const unauthenticated = (kind: string, address: string, event: AddressEvent): void => byAddress.record(kind, address, event);

  // guarded: a throw in here would otherwise be an uncaught exception, and end the process.
  io.use(guarded((socket: CohortSocket, next) => {
    const address = socket.handshake.address;
    const parsed = ConnectAuthSchema.safeParse(socket.handshake.auth);
    const claimed = parsed.success && store.getInstitution(deps.federation, parsed.data.institution) ? parsed.data.institution : `address:${address}`;
    const limited = limiter.connection(claimed, address);
    if (limited) return next(Object.assign(new Error(limited.message), { data: limited }));
    const refuse = (code: CohortError['code'], message: string, claimedInstitution?: string): void => {
      unauthenticated('connection.refused', address, { code, message, ...(claimedInstitution !== undefined ? { claimedInstitution } : {}) });
      log.warn({ code, address }, `connection refused: ${message}`);
      const err = new Error(message) as Error & { data: { code: string; message: string } };
      err.data = { code, message };
      next(err);
    };
    if (!parsed.success) {
      const version = (socket.handshake.auth as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      if (version !== undefined && version !== PROTOCOL_VERSION) {
        return refuse('PROTOCOL_MISMATCH', `protocol version ${quoteValue(version)} is not supported: this coordinator speaks version ${PROTOCOL_VERSION}`);
      }
      return refuse('BAD_REQUEST', `connect auth invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const { protocolVersion, federation, institution, nonce } = parsed.data;
    if (protocolVersion !== PROTOCOL_VERSION) {
      return refuse('PROTOCOL_MISMATCH', `protocol version ${protocolVersion} is not supported: this coordinator speaks version ${PROTOCOL_VERSION}; upgrade the agent`, institution);
    }
    if (federation !== deps.federation) return refuse('WRONG_FEDERATION', `this coordinator runs federation ${deps.federation}, not ${federation}`, institution);
    const inst = store.getInstitution(deps.federation, institution);
    if (!inst) return refuse('UNKNOWN_INSTITUTION', `institution ${institution} is not enrolled in ${deps.federation}`, institution);
    if (inst.status !== 'active') return refuse('UNAUTHENTICATED', `institution ${institution} is ${inst.status}`, institution);
    const clientNonce = safeBase64(nonce);
    if (clientNonce.length !== 32) return refuse('BAD_REQUEST', 'connect auth nonce must be 32 bytes in base64', institution);
    socket.data = { institution, authenticated: false, challenge: newChallenge(), clientNonce, address };
    next();
  }, (cause) => log.error({ err: cause }, 'connect middleware failed')));

  io.on('connection', (socket) => {
    const { institution } = socket.data;
    const timeout = setTimeout(() => {
      if (!socket.data.authenticated) {
        unauthenticated('auth.timeout', socket.data.address, { code: 'UNAUTHENTICATED', message: 'no answer to the challenge in time', claimedInstitution: institution });
        // Closing the transport, not sending the agent away: a site too slow to answer under load retries with backoff.
        socket.conn.close();
      }
    }, deps.authTimeoutMs ?? 10_000);
    socket.emit('session:challenge', {
      protocolVersion: PROTOCOL_VERSION,
      federation: deps.federation,
      coordinatorSignPublicKey: toBase64(deps.identity.signPublicKey),
      challenge: toBase64(socket.data.challenge),
      coordinatorSignature: toBase64(
        signServerProof({ federation: deps.federation, institution, clientNonce: socket.data.clientNonce, challenge: socket.data.challenge }, deps.identity.signSecretKey),
      ),
    });

    const on = <E extends keyof ClientToServerEvents, S extends z.ZodType>(
      event: E,
      schema: S,
      fn: (msg: z.infer<S>) => Record<string, unknown> | void,
    ): void => {
      (socket as unknown as LooseSocket).on(event, (...args: unknown[]) => {
        // socket.io passes the ack last, whatever else a client sends: find it there so every caller gets an answer.
        const ack = args.at(-1);
        const reply = typeof ack === 'function' ? (ack as (res: unknown) => void) : () => undefined;
        const payload = args[0] === ack && typeof ack === 'function' ? undefined : args[0];
        try {
          if (event !== 'session:auth' && !socket.data.authenticated) {
            throw new CohortError('UNAUTHENTICATED', `${event} before authentication`);
          }
          const parsed = schema.safeParse(payload);
          if (!parsed.success) {
            // At most five issues, each cut short: an error message stays readable whatever was sent.
            const { issues } = parsed.error;
            const detail =
              issues.slice(0, 5).map((i) => `${i.path.join('.').slice(0, 100) || '(root)'}: ${i.message.slice(0, 200)}`).join('; ') +
              (issues.length > 5 ? `; and ${issues.length - 5} more` : '');
            throw new CohortError('BAD_REQUEST', `${event}: ${detail}`);
          }
          reply({ ok: true, ...(fn(parsed.data) ?? {}) });
        } catch (cause) {
          const err = storageUnavailable(cause) ?? toCohortError(cause);
          if (err.code === 'INTERNAL') log.error({ err: cause, event }, 'handler failed');
          // A storage failure cannot be audited (the store is what failed): it is logged, and the agent told to come back.
          if (err.code === 'UNAVAILABLE') log.error({ event, institution }, err.message);
          else if (!socket.data.authenticated) {
            unauthenticated('message.refused', socket.data.address, { event, code: err.code, message: err.message, claimedInstitution: institution });
          } else if (event !== 'update:chunk' || err.code !== 'UPLOAD_UNKNOWN') {
            audit('message.refused', institution, { event, code: err.code, message: err.message });
          }
          reply({ ok: false, error: err.toWire() });
        }
      });
    };

    // Every inbound event, known or not, passes the rate limits first (per institution once authenticated, per address before).
    socket.use(([event, ...args], next) => {
      const actor = socket.data.authenticated ? institution : `address:${socket.data.address}`;
      const limited = limiter.message(actor, String(event), approxBytes(args));
      if (limited) {
        const ack = args.at(-1);
        if (typeof ack === 'function') (ack as (res: unknown) => void)({ ok: false, error: limited });
        return;
      }
      if (!(CLIENT_EVENTS as readonly string[]).includes(String(event))) {
        const name = String(event).slice(0, 64);
        if (socket.data.authenticated) audit('message.refused', institution, { event: name, code: 'UNKNOWN_EVENT', message: 'unknown event' });
        else unauthenticated('message.refused', socket.data.address, { event: name, code: 'UNKNOWN_EVENT', message: 'unknown event', claimedInstitution: institution });
        const ack = args.at(-1);
        const error = { code: 'UNKNOWN_EVENT', message: `unknown event "${quoteValue(event)}": this coordinator takes ${CLIENT_EVENTS.join(', ')}` };
        if (typeof ack === 'function') (ack as (res: unknown) => void)({ ok: false, error });
        return;
      }
      next();
    });

    on('session:auth', AuthResponseSchema, (msg) => {
      if (socket.data.authenticated) throw new CohortError('BAD_REQUEST', 'already authenticated');
      const inst = store.getInstitution(deps.federation, institution);
      const ok =
        inst !== undefined &&
        verifyChallenge(
          { federation: deps.federation, institution, challenge: socket.data.challenge, coordinatorSignPublicKey: deps.identity.signPublicKey },
          safeBase64(msg.signature),
          fromBase64(inst.signPublicKey),
        );
      if (!ok) {
        setImmediate(() => socket.disconnect(true));
        throw new CohortError('BAD_SIGNATURE', `challenge signature does not verify with the key enrolled for ${institution}`);
      }
      clearTimeout(timeout);
      socket.data.authenticated = true;
      const previous = sessions.get(institution);
      if (previous && previous.id !== socket.id) previous.disconnect(true);
      sessions.set(institution, socket);
      void socket.join(AGENTS_ROOM);
      audit('agent.connected', institution, { address: socket.data.address });
      log.info({ institution }, 'agent authenticated');
      const fed = store.getFederation(deps.federation)!;
      socket.emit('session:welcome', {
        institution,
        federation: deps.federation,
        spec: runner().currentModel?.spec ?? fed.spec,
        maxUploadBytes: deps.maxUploadBytes,
        chunkBytes: deps.chunkBytes,
        study: fed.manifest,
        policyHash: fed.policyHash,
      });
      // An agent that comes after the federation failed learns it at once instead of waiting for a round.
      const failed = runner().failedReason;
      if (failed !== undefined) setImmediate(() => socket.emit('federation:failed', { reason: failed }));
      return { institution };
    });

    on('agent:ready', ReadySchema, (msg) => {
      runner().agentOnline(institution, msg);
    });

    on('update:begin', UploadBeginSchema, (msg) => {
      runner().assertCanUpload(institution, msg.round);
      if (msg.chunkBytes > deps.chunkBytes) {
        throw new CohortError('BAD_REQUEST', `chunkBytes ${msg.chunkBytes} exceeds this coordinator's ${deps.chunkBytes}`);
      }
      return uploads.begin(institution, msg);
    });

    on('update:chunk', UploadChunkSchema, (msg) => uploads.chunk(institution, msg));

    on('update:commit', UploadCommitSchema, (msg) => {
      const { round, bytes } = uploads.finish(institution, msg.uploadId);
      return runner().submitUpdate(institution, round, bytes);
    });

    on('round:decline', DeclineSchema, (msg) => runner().decline(institution, msg));

    on('round:evaluation', EvaluationReportSchema, (msg) => runner().evaluationReport(institution, msg));

    on('consent:revoke', ConsentRevokeSchema, (msg) => runner().revokeConsent(institution, msg.revocation));

    on('secagg:advertise', SecAggAdvertiseSchema, (msg) => runner().secAgg(institution, 'advertise', msg));
    on('secagg:share-keys', SecAggShareKeysSchema, (msg) => runner().secAgg(institution, 'share-keys', msg));
    on('secagg:consistency', SecAggConsistencySchema, (msg) => runner().secAgg(institution, 'consistency', msg));
    on('secagg:unmask', SecAggUnmaskSchema, (msg) => runner().secAgg(institution, 'unmask', msg));

    socket.on('disconnect', (reason, description?: unknown) => {
      clearTimeout(timeout);
      if (sessions.get(institution) === socket) {
        sessions.delete(institution);
        runner().agentOffline(institution);
        // e.g. "transport error" with "RangeError: Max payload size exceeded" for a frame over maxHttpBufferSize
        const detail = description instanceof Error ? description.message.slice(0, 200) : undefined;
        audit('agent.disconnected', institution, detail ? { reason, detail } : { reason });
      }
    });
  });

  return {
    sendTask(institution: string, task: RoundTask): boolean {
      const socket = sessions.get(institution);
      if (!socket?.connected) return false;
      socket.emit('round:task', task);
      return true;
    },
    sendSecAgg(institution, event, msg): boolean {
      const socket = sessions.get(institution);
      if (!socket?.connected) return false;
      (socket.emit as (e: string, m: unknown) => boolean)(event, msg);
      return true;
    },
    sendEvaluation(institution: string, task: EvaluateTask): boolean {
      const socket = sessions.get(institution);
      if (!socket?.connected) return false;
      socket.emit('round:evaluate', task);
      return true;
    },
    broadcast(event: 'round:closed' | 'federation:complete' | 'federation:failed', msg: unknown): void {
      if (event === 'round:closed') uploads.pruneExcept(undefined);
      io.to(AGENTS_ROOM).emit(event as 'round:closed', msg as RoundClosed);
    },
    close(): void {
      limiter.close();
      byAddress.flushAll();
      // The server closing drops the transports, which agents see as a lost connection and retry with
      // backoff; a per-socket disconnect would tell them the coordinator sent them away for good.
      sessions.clear();
    },
  };
}

function safeBase64(text: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch {
    return new Uint8Array(0);
  }
}
