/** Inbound events before their handlers: rate limits, unknown events, authentication, schema, and one way to answer and audit a refusal. */
import type { z } from 'zod';
import { CLIENT_EVENTS, CohortError, type ClientToServerEvents } from '../../protocol/index.js';
import { knownError } from '../store/index.js';
import { approxBytes } from './rate-limit.js';
import { quoteValue } from './guard.js';
import { ackError, ackOf } from './errors.js';
import type { RealtimeContext } from './context.js';
import type { CohortSocket } from './types.js';

/** The socket seen without its event typing, for the one generic handler wrapper. */
interface LooseSocket {
  on(event: string, listener: (...args: unknown[]) => void): void;
}

/** Registers a handler: the payload is parsed by `schema`, and what `fn` returns (or throws) is the acknowledgement. */
export type On = <E extends keyof ClientToServerEvents, S extends z.ZodType>(
  event: E,
  schema: S,
  fn: (msg: z.infer<S>) => Record<string, unknown> | void,
) => void;

/**
 * Puts the rate limits and the unknown-event refusal in front of every event of `socket`, and returns its `on`.
 * @example const on = inbound(ctx, socket); on('agent:ready', ReadySchema, (msg) => runner().agentOnline(institution, msg))
 */
export function inbound(ctx: RealtimeContext, socket: CohortSocket): On {
  const { limiter } = ctx;
  const { log } = ctx.deps;
  const { institution } = socket.data;

  // A refused message is audited under the institution once authenticated, under the address before.
  const refused = (event: string, code: string, message: string): void => {
    if (!socket.data.authenticated) {
      ctx.unauthenticated('message.refused', socket.data.address, { event, code, message, claimedInstitution: institution });
    } else if (event !== 'update:chunk' || code !== 'UPLOAD_UNKNOWN') {
      ctx.audit('message.refused', institution, { event, code, message });
    }
  };

  const on: On = (event, schema, fn) => {
    (socket as unknown as LooseSocket).on(event, (...args: unknown[]) => {
      // Whatever else a client sends, the ack comes last: every caller that asked for an answer gets one.
      const ack = ackOf(args);
      const payload = ack !== undefined && args[0] === ack ? undefined : args[0];
      try {
        if (event !== 'session:auth' && !socket.data.authenticated) {
          throw new CohortError('UNAUTHENTICATED', `${event} before authentication`);
        }
        const parsed = schema.safeParse(payload);
        if (!parsed.success) {
          // At most five issues, each cut short: an error message stays readable whatever was sent.
          const { issues } = parsed.error;
          const detail =
            issues
              .slice(0, 5)
              .map((i) => `${i.path.join('.').slice(0, 100) || '(root)'}: ${i.message.slice(0, 200)}`)
              .join('; ') + (issues.length > 5 ? `; and ${issues.length - 5} more` : '');
          throw new CohortError('BAD_REQUEST', `${event}: ${detail}`);
        }
        ack?.({ ok: true, ...(fn(parsed.data) ?? {}) });
      } catch (cause) {
        const err = knownError(cause);
        if (err.code === 'INTERNAL') log.error({ err: cause, event }, 'handler failed');
        // A storage failure cannot be audited (the store is what failed): it is logged, and the agent told to come back.
        if (err.code === 'UNAVAILABLE') log.error({ event, institution }, err.message);
        else refused(event, err.code, err.message);
        ackError(ack, err);
      }
    });
  };

  // Every inbound event, known or not, passes the rate limits first (per institution once authenticated, per address before).
  socket.use(([event, ...args], next) => {
    const actor = socket.data.authenticated ? institution : `address:${socket.data.address}`;
    const limited = limiter.message(actor, String(event), approxBytes(args));
    if (limited) return ackError(ackOf(args), limited);
    if (!(CLIENT_EVENTS as readonly string[]).includes(String(event))) {
      refused(String(event).slice(0, 64), 'UNKNOWN_EVENT', 'unknown event');
      return ackError(
        ackOf(args),
        new CohortError('UNKNOWN_EVENT', `unknown event "${quoteValue(event)}": this coordinator takes ${CLIENT_EVENTS.join(', ')}`),
      );
    }
    next();
  });

  return on;
}
