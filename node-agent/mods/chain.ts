/** The agent's training task as a chain of mods: each step sees the task on its way to training and the outcome on its way back. */
import type { Logger } from 'pino';
import type { CohortError, ErrorCode, LocalMetrics, NamedTensor, RoundTask, UpdateMeta } from '../../protocol/index.js';
import type { AgentAuditLog } from '../audit-log.js';

/** What every mod may use: the agent's log and its own audit log. Per-site state across rounds lives in a mod's closure. */
export interface ModContext {
  log: Logger;
  audit: AgentAuditLog;
}

/** The update a site trained, on its way back through the mods to be sealed. */
export interface LocalUpdate {
  /** The global model the task carried (decoded once, authenticated). */
  global: NamedTensor[];
  /** What the site will send: the trained weights, as the mods changed them (clipped, compressed...). */
  weights: NamedTensor[];
  metrics: LocalMetrics;
  trainSamples: number;
  /** How the update becomes the envelope's payload when not as plain weights: its kind and encoder (secure aggregation's masked input). */
  encoding?: { kind: UpdateMeta['kind']; encode(update: LocalUpdate, meta: UpdateMeta): Promise<Uint8Array> };
}

/**
 * What a task came to. `retry`: a copy of the task sent again (after a reconnect) may run once more; without it the
 * round counts as taken.
 */
export type TaskOutcome =
  | { kind: 'trained'; update: LocalUpdate }
  | { kind: 'sent'; digest: string; bytes: number }
  | { kind: 'declined'; code: ErrorCode; message: string; retry?: boolean }
  | { kind: 'failed'; error: CohortError }
  | { kind: 'skipped' };

/** The rest of the chain, as a mod sees it. */
export type Next = (task: RoundTask, ctx: ModContext) => Promise<TaskOutcome>;

/**
 * One step of the agent's task handling (Flower's client mods: `mod(msg, context, call_next)`): it may answer
 * without calling `next` (a refusal), change the task on its way in, and change the outcome on its way back.
 * @example const logRounds: Mod = async (task, ctx, next) => (ctx.log.info(`round ${task.round}`), next(task, ctx));
 */
export type Mod = (task: RoundTask, ctx: ModContext, next: Next) => Promise<TaskOutcome>;

/**
 * Composes mods around the step at the end of the chain: the first mod is the outermost (first to see the task,
 * last to see the outcome).
 * @example const run = chain([consentGuard, dpClip()], train); const outcome = await run(task, ctx);
 */
export function chain(mods: readonly Mod[], last: Next): Next {
  return mods.reduceRight<Next>((next, mod) => (task, ctx) => mod(task, ctx, next), last);
}

/**
 * A mod that changes the trained update on its way back (clipping, compression, a simulated attack); any other
 * outcome passes unchanged. `change` may keep per-site state across rounds in its closure.
 * @example const halve = updateMod((update) => ({ ...update, weights: update.weights.map(scale(0.5)) }));
 */
export function updateMod(change: (update: LocalUpdate, task: RoundTask, ctx: ModContext) => LocalUpdate | Promise<LocalUpdate>): Mod {
  return async (task, ctx, next) => {
    const outcome = await next(task, ctx);
    return outcome.kind === 'trained' ? { kind: 'trained', update: await change(outcome.update, task, ctx) } : outcome;
  };
}
