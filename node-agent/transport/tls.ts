/** TLS trust for the agent's connection: a CA file, a pinned SHA-256 certificate fingerprint, or both, checked before any byte is sent. */
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';

export interface TlsTrust {
  /** PEM of the certificate authority (or the self-signed certificate) that must have issued the coordinator's certificate. */
  ca?: string | Buffer;
  /** SHA-256 fingerprint of the coordinator's certificate (hex, colons optional), as `openssl x509 -fingerprint -sha256` prints it. */
  pinSha256?: string;
}

/** Node's TLS error codes for a certificate that does not verify, and ours for a pin that does not match. */
export const TLS_TRUST_ERRORS = new Set([
  'ERR_COHORT_PIN_MISMATCH',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Normalises a SHA-256 fingerprint to Node's `fingerprint256` form (upper-case hex pairs joined by colons).
 * @example normalizeFingerprint('ab12…') // 'AB:12:…'
 */
export function normalizeFingerprint(text: string): string {
  const hex = text
    .trim()
    .replace(/^sha256[:=]/i, '')
    .replace(/[:\s]/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex))
    throw new Error(`a SHA-256 certificate fingerprint is 64 hex digits (colons optional), got ${JSON.stringify(text.slice(0, 100))}`);
  return hex.match(/../g)!.join(':');
}

/** An https agent that completes the TLS handshake and checks the pin before handing the socket to the request. */
class PinningAgent extends HttpsAgent {
  constructor(
    private readonly pin: string,
    private readonly ca: string | Buffer | undefined,
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: ConnectionOptions, done: (err: Error | null, socket?: Duplex) => void): undefined {
    // Without a CA the pin alone is the trust: the chain and host name are not what is checked, the exact certificate is.
    const socket: TLSSocket = tlsConnect({
      ...options,
      ...(this.ca ? { ca: this.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
    });
    const fail = (err: Error): void => {
      socket.destroy();
      done(err);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      const got = socket.getPeerCertificate().fingerprint256;
      if (got !== this.pin) {
        const err = Object.assign(
          new Error(
            `TLS: the coordinator's certificate has SHA-256 fingerprint ${got ?? '(none)'}, not the pinned ${this.pin}: refusing to connect`,
          ),
          { code: 'ERR_COHORT_PIN_MISMATCH' },
        );
        return fail(err);
      }
      done(null, socket);
    });
    return undefined;
  }
}

/**
 * socket.io-client options that make the agent trust the coordinator only by `trust` (Node's default CAs are
 * replaced by `ca`; a pin is checked on every connection before the upgrade request is written).
 * @example connect({ ..., socketOptions: tlsSocketOptions({ pinSha256: 'AB:12:…' }) })
 */
export function tlsSocketOptions(trust: TlsTrust): Partial<ManagerOptions & SocketOptions> {
  if (trust.pinSha256 !== undefined) {
    return { agent: new PinningAgent(normalizeFingerprint(trust.pinSha256), trust.ca, { keepAlive: false }) } as unknown as Partial<
      ManagerOptions & SocketOptions
    >;
  }
  if (trust.ca !== undefined) return { ca: trust.ca, rejectUnauthorized: true } as Partial<ManagerOptions & SocketOptions>;
  return {};
}

/**
 * The TLS trust failure behind a socket.io connect error, if that is what it is.
 * @example const tls = tlsTrustFailure(err); if (tls) fatal(...)
 */
export function tlsTrustFailure(err: unknown): { code: string; message: string } | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  // engine.io wraps the transport's error event, which wraps the socket's error: follow description/error/cause.
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const { code, message } = cur as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && TLS_TRUST_ERRORS.has(code)) return { code, message: typeof message === 'string' ? message : code };
    const next = cur as { description?: unknown; error?: unknown; cause?: unknown };
    cur = next.description ?? next.error ?? next.cause;
  }
  return undefined;
}
