/** Keeps a throw inside socket.io connect middleware from becoming an uncaught exception that ends the coordinator. */
import { toCohortError } from '../../protocol/index.js';
import { connectError } from './errors.js';

type Next = (err?: Error) => void;

/**
 * Wraps a connect middleware: anything it throws is reported and refuses that one connection with a coded error.
 * @example io.use(guarded((socket, next) => { ... }, (cause) => log.error({ err: cause }, 'connect middleware failed')))
 */
export function guarded<S>(fn: (socket: S, next: Next) => void, onError: (cause: unknown) => void): (socket: S, next: Next) => void {
  return (socket, next) => {
    let called = false;
    const once: Next = (err) => {
      if (called) return;
      called = true;
      next(err);
    };
    try {
      fn(socket, once);
    } catch (cause) {
      onError(cause);
      once(connectError(toCohortError(cause)));
    }
  };
}

/**
 * A value from a client in a message: numbers, booleans and at most 32 characters of a string; otherwise its type.
 * @example quoteValue('x'.repeat(1000)) // 'xxxx…' (32 characters)
 */
export function quoteValue(value: unknown): string {
  if (typeof value === 'string') return value.slice(0, 32);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}
