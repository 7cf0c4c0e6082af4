/** The agent's socket.io connection: version in the handshake, challenge answered with the institution key, pinned coordinator key. */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  ChallengeSchema,
  CohortError,
  PROTOCOL_VERSION,
  WelcomeSchema,
  isWireError,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type Welcome,
} from '../../protocol/index.js';
import { randomBytes } from 'node:crypto';
import { constantTimeEqual, fromBase64, signChallenge, toBase64, verifyServerProof, type Identity } from '../../crypto/index.js';
import { tlsTrustFailure } from './tls.js';

export type AgentSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** How long the agent waits for the coordinator to acknowledge one message (ready, decline, secure aggregation, evaluation). */
export const ACK_TIMEOUT_MS = 15_000;

export interface ConnectionOptions {
  url: string;
  federation: string;
  identity: Identity;
  /** The coordinator's Ed25519 public key, obtained out of band: a coordinator without it is refused. */
  coordinatorSignPublicKey: Uint8Array;
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  onWelcome: (welcome: Welcome) => void;
  onFatal: (err: CohortError) => void;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

/** Codes after which reconnecting cannot help. */
const FATAL = new Set(['PROTOCOL_MISMATCH', 'UNKNOWN_INSTITUTION', 'WRONG_FEDERATION', 'BAD_SIGNATURE', 'UNAUTHENTICATED']);

/**
 * Opens the connection; on every (re)connect it answers the coordinator's challenge and waits for the welcome.
 * @example const socket = connect({ url, federation, identity, coordinatorSignPublicKey, onWelcome, onFatal, log })
 */
export function connect(opts: ConnectionOptions): AgentSocket {
  // A fresh nonce on every (re)connect, which the coordinator must sign with its key.
  let nonce = randomBytes(32);
  const socket: AgentSocket = io(opts.url, {
    transports: ['websocket'],
    reconnectionDelay: 500,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
    ...opts.socketOptions,
    auth: (cb) => {
      nonce = randomBytes(32);
      cb({ protocolVersion: PROTOCOL_VERSION, federation: opts.federation, institution: opts.identity.id, nonce: toBase64(nonce) });
    },
  });
  const fatal = (err: CohortError): void => {
    socket.io.reconnection(false);
    socket.disconnect();
    opts.onFatal(err);
  };

  socket.on('connect_error', (err: Error & { data?: unknown }) => {
    const tls = tlsTrustFailure(err);
    if (isWireError(err.data) && FATAL.has(err.data.code)) {
      fatal(new CohortError(err.data.code, `coordinator refused the connection: ${err.data.message}`));
    } else if (tls) {
      // A certificate that does not verify (or match the pin) will not verify on retry: stop, and say why.
      fatal(new CohortError('UNAUTHENTICATED', `the coordinator at ${opts.url} is not trusted over TLS (${tls.code}): ${tls.message}`));
    } else {
      opts.log('warn', `cannot reach the coordinator at ${opts.url}: ${err.message}; retrying`);
    }
  });

  socket.on('session:challenge', (raw) => {
    const parsed = ChallengeSchema.safeParse(raw);
    if (!parsed.success) return fatal(new CohortError('BAD_REQUEST', 'malformed challenge from the coordinator'));
    const msg = parsed.data;
    const presented = decodeOrNull(msg.coordinatorSignPublicKey);
    if (!presented || !constantTimeEqual(presented, opts.coordinatorSignPublicKey)) {
      return fatal(
        new CohortError('BAD_SIGNATURE', 'the server at this URL does not hold the pinned coordinator key: refusing to talk to it'),
      );
    }
    if (msg.protocolVersion !== PROTOCOL_VERSION) {
      return fatal(
        new CohortError('PROTOCOL_MISMATCH', `coordinator speaks protocol ${msg.protocolVersion}, this agent ${PROTOCOL_VERSION}`),
      );
    }
    const challenge = decodeOrNull(msg.challenge);
    // A throw here would escape the socket's event handler and end the agent's process.
    if (!challenge || challenge.length !== 32)
      return fatal(new CohortError('BAD_REQUEST', 'malformed challenge from the coordinator: expected 32 bytes in base64'));
    const proof = decodeOrNull(msg.coordinatorSignature);
    const proven =
      proof !== null &&
      verifyServerProof(
        { federation: opts.federation, institution: opts.identity.id, clientNonce: nonce, challenge },
        proof,
        opts.coordinatorSignPublicKey,
      );
    if (!proven) {
      return fatal(
        new CohortError(
          'BAD_SIGNATURE',
          'the server did not prove it holds the pinned coordinator key (its signature over our nonce does not verify): refusing to talk to it',
        ),
      );
    }
    const signature = signChallenge(
      { federation: opts.federation, institution: opts.identity.id, challenge, coordinatorSignPublicKey: presented },
      opts.identity.signSecretKey,
    );
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('session:auth', { signature: toBase64(signature) })
      .then((res) => {
        if (res.ok) return;
        // The coordinator cannot store anything now (database locked, disk full) or is shedding load: come back later, with the usual backoff.
        if (res.error.code === 'UNAVAILABLE' || res.error.code === 'RATE_LIMITED') {
          opts.log('warn', `coordinator unavailable: ${res.error.message}; reconnecting`);
          return void socket.io.engine.close();
        }
        fatal(new CohortError(res.error.code, `authentication refused: ${res.error.message}`));
      })
      .catch((err: Error) => opts.log('warn', `authentication not acknowledged: ${err.message}`));
  });

  socket.on('session:welcome', (raw) => {
    const parsed = WelcomeSchema.safeParse(raw);
    if (!parsed.success) return fatal(new CohortError('BAD_REQUEST', 'malformed welcome from the coordinator'));
    opts.onWelcome(parsed.data);
  });
  return socket;
}

/** Strict base64 decoding that answers null instead of throwing. */
function decodeOrNull(text: string): Uint8Array | null {
  try {
    return fromBase64(text);
  } catch {
    return null;
  }
}
