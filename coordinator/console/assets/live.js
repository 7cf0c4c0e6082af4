/** The live feed: socket.io's namespace /console, authenticated with the session's token; events re-dispatched to the pages. */
import { io } from '/socket.io/socket.io.esm.min.js';

const EVENTS = [
  'round:updated',
  'round:waiting',
  'round:blocked',
  'round:started',
  'update:accepted',
  'update:refused',
  'participant:declined',
  'participant:dropped',
  'consent:revoked',
  'round:decided',
  'round:published',
  'round:withheld',
  'round:failed',
  'federation:complete',
  'federation:failed',
  'agents:online',
];

/**
 * Connects, subscribes to the federation, and calls `on.snapshot` with the server's view after
 * every (re)connection and `on.event(name, payload)` for each event.
 * @example const live = connectLive(token, 'demo', { snapshot, event, status }); live.close()
 */
export function connectLive(token, federation, on) {
  const socket = io('/console', { auth: { token }, transports: ['websocket'] });
  socket.on('connect', () => {
    on.status?.('connecting');
    socket.emit('console:subscribe', { federation }, (res) => {
      if (!res?.ok) return on.status?.('error', res?.error?.message ?? 'subscription refused');
      on.status?.('on');
      on.snapshot?.(res);
    });
  });
  socket.on('disconnect', () => on.status?.('off'));
  socket.on('connect_error', (err) => on.status?.('error', err?.message ?? 'cannot connect'));
  for (const name of EVENTS) socket.on(name, (payload) => on.event?.(name, payload));
  return { close: () => socket.close() };
}
