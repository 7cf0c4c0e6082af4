/** A round's task is taken once: a copy the coordinator sends again after a reconnect is not trained twice. */
import type { Mod } from './chain.js';

/**
 * Skips a task for a round this site already took; a round whose task failed, or was declined with `retry`, may be
 * taken again.
 * @example chain([consentGuard(options), oncePerRound(), ...], train)
 */
export function oncePerRound(): Mod {
  const taken = new Set<number>();
  return async (task, ctx, next) => {
    if (taken.has(task.round)) {
      ctx.log.info({ round: task.round }, 'task already taken for this round');
      return { kind: 'skipped' };
    }
    taken.add(task.round);
    const outcome = await next(task, ctx);
    if (outcome.kind === 'failed' || (outcome.kind === 'declined' && outcome.retry)) taken.delete(task.round);
    return outcome;
  };
}
