/** Authentication: version and enrolment checks at connect, then the signed challenge and its answer (`session:auth`). */
import { CohortError, ConnectAuthSchema, PROTOCOL_VERSION, type AuthResponse, type ErrorCode } from '../../protocol/index.js';
import { fromBase64, newChallenge, signServerProof, toBase64, verifyChallenge } from '../../crypto/index.js';
import { quoteValue } from './guard.js';
import { connectError } from './errors.js';
import { AGENTS_ROOM, type RealtimeContext } from './context.js';
import type { CohortSocket } from './types.js';

/**
 * Connect middleware: rate limit, then protocol version, federation and enrolment; a refusal is audited under the address.
 * @example io.use(guarded((socket, next) => admit(ctx, socket, next), onError))
 */
export function admit(ctx: RealtimeContext, socket: CohortSocket, next: (err?: Error) => void): void {
  const { deps } = ctx;
  const { store, log } = deps;
  const address = socket.handshake.address;
  const parsed = ConnectAuthSchema.safeParse(socket.handshake.auth);
  const claimed =
    parsed.success && store.getInstitution(deps.federation, parsed.data.institution) ? parsed.data.institution : `address:${address}`;
  const limited = ctx.limiter.connection(claimed, address);
  if (limited) return next(connectError(limited));
  const refuse = (code: ErrorCode, message: string, claimedInstitution?: string): void => {
    ctx.unauthenticated('connection.refused', address, {
      code,
      message,
      ...(claimedInstitution !== undefined ? { claimedInstitution } : {}),
    });
    log.warn({ code, address }, `connection refused: ${message}`);
    next(connectError({ code, message }));
  };
  if (!parsed.success) {
    const version = (socket.handshake.auth as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (version !== undefined && version !== PROTOCOL_VERSION) {
      return refuse(
        'PROTOCOL_MISMATCH',
        `protocol version ${quoteValue(version)} is not supported: this coordinator speaks version ${PROTOCOL_VERSION}`,
      );
    }
    return refuse('BAD_REQUEST', `connect auth invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const { protocolVersion, federation, institution, nonce } = parsed.data;
  if (protocolVersion !== PROTOCOL_VERSION) {
    return refuse(
      'PROTOCOL_MISMATCH',
      `protocol version ${protocolVersion} is not supported: this coordinator speaks version ${PROTOCOL_VERSION}; upgrade the agent`,
      institution,
    );
  }
  if (federation !== deps.federation)
    return refuse('WRONG_FEDERATION', `this coordinator runs federation ${deps.federation}, not ${federation}`, institution);
  const inst = store.getInstitution(deps.federation, institution);
  if (!inst) return refuse('UNKNOWN_INSTITUTION', `institution ${institution} is not enrolled in ${deps.federation}`, institution);
  if (inst.status !== 'active') return refuse('UNAUTHENTICATED', `institution ${institution} is ${inst.status}`, institution);
  const clientNonce = safeBase64(nonce);
  if (clientNonce.length !== 32) return refuse('BAD_REQUEST', 'connect auth nonce must be 32 bytes in base64', institution);
  socket.data = { institution, authenticated: false, challenge: newChallenge(), clientNonce, address };
  next();
}

/**
 * Sends the signed challenge to a new connection and starts its answer timer; returns the timer.
 * @example const timeout = challenge(ctx, socket) // cleared by authenticate() or at disconnect
 */
export function challenge(ctx: RealtimeContext, socket: CohortSocket): NodeJS.Timeout {
  const { deps } = ctx;
  const { institution } = socket.data;
  const timeout = setTimeout(() => {
    if (!socket.data.authenticated) {
      ctx.unauthenticated('auth.timeout', socket.data.address, {
        code: 'UNAUTHENTICATED',
        message: 'no answer to the challenge in time',
        claimedInstitution: institution,
      });
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
      signServerProof(
        { federation: deps.federation, institution, clientNonce: socket.data.clientNonce, challenge: socket.data.challenge },
        deps.identity.signSecretKey,
      ),
    ),
  });
  return timeout;
}

/**
 * The `session:auth` handler: checks the answer against the enrolled key, then takes over the institution's session and welcomes it.
 * @example on('session:auth', AuthResponseSchema, (msg) => authenticate(ctx, socket, msg, timeout))
 */
export function authenticate(
  ctx: RealtimeContext,
  socket: CohortSocket,
  msg: AuthResponse,
  timeout: NodeJS.Timeout,
): { institution: string } {
  const { deps, sessions, runner } = ctx;
  const { store, log } = deps;
  const { institution } = socket.data;
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
  ctx.audit('agent.connected', institution, { address: socket.data.address });
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
}

function safeBase64(text: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch {
    return new Uint8Array(0);
  }
}
