/** The realtime side's two ways of saying no: a connect error for socket.io middleware, and an error acknowledgement for an event. */
import type { WireError } from '../../protocol/index.js';

/** A socket.io acknowledgement callback. */
export type Ack = (res: unknown) => void;

/**
 * The Error a connect middleware passes to `next`: socket.io sends its message, and its `data` as the coded wire error.
 * @example next(connectError(new CohortError('WRONG_FEDERATION', 'this coordinator runs federation a, not b')))
 */
export function connectError(error: WireError): Error & { data: WireError } {
  return Object.assign(new Error(error.message), { data: { code: error.code, message: error.message } });
}

/**
 * The acknowledgement an event carries: socket.io passes it last, whatever else a client sends.
 * @example const ack = ackOf(args) // undefined when the client asked for no answer
 */
export function ackOf(args: readonly unknown[]): Ack | undefined {
  const ack = args.at(-1);
  return typeof ack === 'function' ? (ack as Ack) : undefined;
}

/**
 * Answers an event with `{ ok: false, error }`, when it carries an acknowledgement.
 * @example ackError(ackOf(args), new CohortError('UNAUTHENTICATED', 'agent:ready before authentication'))
 */
export function ackError(ack: Ack | undefined, error: WireError): void {
  ack?.({ ok: false, error: { code: error.code, message: error.message } });
}
