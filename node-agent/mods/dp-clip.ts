/** Client-level DP at the site: clip the update (its distance from the global model) to an L2 norm before it leaves. */
import type { NamedTensor } from '../../protocol/index.js';
import { dp } from '../../crypto/index.js';
import { updateMod, type Mod } from './chain.js';

/**
 * Scales the difference between the trained and the global weights so its L2 norm is at most `clipNorm`.
 * @example const { weights, norm } = clipUpdate(global, trained, 1.0)
 */
export function clipUpdate(
  global: readonly NamedTensor[],
  trained: readonly NamedTensor[],
  clipNorm: number,
): { weights: NamedTensor[]; norm: number; factor: number } {
  const norm = dp.updateDistance(
    trained.map((t) => t.data),
    global.map((t) => t.data),
  );
  // A hair under the bound, so float32 rounding never takes the clipped update over it.
  const factor = norm > clipNorm ? (clipNorm * (1 - 1e-6)) / norm : 1;
  const weights = trained.map((t, i) => {
    const g = (global[i] as NamedTensor).data;
    const data = new Float32Array(t.data.length);
    for (let j = 0; j < data.length; j++) data[j] = (g[j] as number) + factor * ((t.data[j] as number) - (g[j] as number));
    return { name: t.name, shape: t.shape, data };
  });
  return { weights, norm, factor };
}

/**
 * Clips the trained update to the task's `dpClipNorm` (none set: unchanged), and under `dpReportClip` reports whether
 * it was within the norm (the coordinator's adaptive clipping counts these).
 * @example chain([..., dpClip()], train)
 */
export function dpClip(): Mod {
  return updateMod((update, task, ctx) => {
    const clipNorm = task.config.dpClipNorm;
    if (clipNorm === undefined) return update;
    const clipped = clipUpdate(update.global, update.weights, clipNorm);
    const within: 0 | 1 = clipped.norm <= clipNorm ? 1 : 0;
    const metrics = task.config.dpReportClip ? { ...update.metrics, withinClip: within } : update.metrics;
    ctx.log.info(
      { round: task.round, updateNorm: clipped.norm, clipNorm, factor: clipped.factor },
      'update clipped for differential privacy',
    );
    return { ...update, weights: clipped.weights, metrics };
  });
}
