/** Measures the update a site is about to send on its fixed validation rows, and announces it trained. */
import { evaluate } from '../train/index.js';
import type { Mod } from '../mods/chain.js';
import type { SiteTraining } from './train-step.js';

/**
 * Adds validation metrics (loss, scores, rows) of the weights to send, as the mods inside changed them, then emits
 * `trained`. A site without validation rows reports its training metrics alone.
 * @example chain([..., validation(site), ...], trainStep(site))
 */
export function validation(site: Pick<SiteTraining, 'rows' | 'backendFor' | 'siteBase' | 'events'>): Mod {
  return async (task, ctx, next) => {
    const outcome = await next(task, ctx);
    if (outcome.kind !== 'trained') return outcome;
    const { update } = outcome;
    const { spec } = task.model;
    const val = site.rows(spec).val;
    const metrics = { ...update.metrics };
    if (val) {
      const v = await evaluate({
        tf: (await site.backendFor(spec)).tf,
        spec,
        weights: update.weights,
        data: val,
        ...(spec.layers ? { base: site.siteBase.current(spec) } : {}),
      });
      Object.assign(metrics, { valLoss: v.loss, ...v.scores, valSamples: val.n });
    }
    site.events.emit('trained', { round: task.round, metrics, samples: update.trainSamples });
    return { kind: 'trained', update: { ...update, metrics } };
  };
}
