/** What the round runner sends to agents: tasks and secure-aggregation steps to one session, broadcasts to all. */
import type { EvaluateTask, RoundClosed, RoundTask } from '../../protocol/index.js';
import type { Outbox } from '../rounds/round-runner.js';
import { AGENTS_ROOM, type RealtimeContext } from './context.js';

/**
 * The Outbox over the authenticated sessions; `close` runs `onClose`, then forgets the sessions.
 * @example const out = outbox(ctx, () => limiter.close()); out.sendTask('site-a', task) // false when site-a is not connected
 */
export function outbox(ctx: RealtimeContext, onClose: () => void): Outbox & { close(): void } {
  const { sessions, uploads } = ctx;
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
      ctx.deps.io.to(AGENTS_ROOM).emit(event as 'round:closed', msg as RoundClosed);
    },
    close(): void {
      onClose();
      // The server closing drops the transports, which agents see as a lost connection and retry with
      // backoff; a per-socket disconnect would tell them the coordinator sent them away for good.
      sessions.clear();
    },
  };
}
