/** Byzantine site behaviour for simulations: transforms of the trained weights, injected into a site's task chain as a mod. */
import type { NamedTensor } from '../../protocol/index.js';
import { updateMod, type Mod } from '../../node-agent/index.js';

/** What a transform sees: the round, the global model the site received and the weights it trained. */
export interface UpdateTransformInput {
  round: number;
  global: readonly NamedTensor[];
  trained: readonly NamedTensor[];
}

/** Replaces the trained weights with what the site sends instead. The agent seals and signs the result as usual. */
export type UpdateTransform = (input: UpdateTransformInput) => NamedTensor[];

/**
 * The mod that makes a site Byzantine: it sends `transform`'s weights instead of those it trained (after DP clipping,
 * before validation and sealing), so the coordinator receives them as an ordinary signed update. A hospital's agent
 * never has it; `cohort simulate --byzantine` and the tests add it through `createAgent({ mods })`.
 * @example createAgent({ ...opts, mods: [byzantineMod(scaledUpdate(100).transform)] })
 */
export function byzantineMod(transform: UpdateTransform): Mod {
  return updateMod((update, task) => ({
    ...update,
    weights: transform({ round: task.round, global: update.global, trained: update.weights }),
  }));
}

/** A named attack: its name for reports and the transform. */
export interface Attack {
  name: string;
  transform: UpdateTransform;
}

/**
 * global + factor·(trained − global), tensor by tensor: the site's update δ scaled by `factor`.
 * @example scaleDelta([{ name: 'w', shape: [1], data: Float32Array.of(1) }], [{ name: 'w', shape: [1], data: Float32Array.of(2) }], -1) // w = 0
 */
export function scaleDelta(global: readonly NamedTensor[], trained: readonly NamedTensor[], factor: number): NamedTensor[] {
  if (global.length !== trained.length)
    throw new RangeError(`the trained model has ${trained.length} tensors, the global one ${global.length}`);
  return trained.map((t, i) => {
    const g = global[i] as NamedTensor;
    if (g.data.length !== t.data.length)
      throw new RangeError(`tensor ${t.name}: ${t.data.length} values against ${g.data.length} in the global model`);
    const data = new Float32Array(t.data.length);
    for (let j = 0; j < data.length; j++) data[j] = (g.data[j] as number) + factor * ((t.data[j] as number) - (g.data[j] as number));
    return { name: t.name, shape: [...t.shape], data };
  });
}

/**
 * Sign flip: the site sends global − k·δ, pushing the model against what its data says (k = 1: plain −δ).
 * @example createAgent({ ...opts, mods: [byzantineMod(signFlip(4).transform)] })
 */
export function signFlip(k: number): Attack {
  if (!(k > 0)) throw new RangeError(`sign flip needs k > 0, got ${k}`);
  return { name: k === 1 ? 'sign flip (−δ)' : `sign flip (−${k}·δ)`, transform: ({ global, trained }) => scaleDelta(global, trained, -k) };
}

/**
 * Scaled update: the site sends global + s·δ, its update boosted s times.
 * @example createAgent({ ...opts, mods: [byzantineMod(scaledUpdate(10).transform)] })
 */
export function scaledUpdate(s: number): Attack {
  if (!(s > 0)) throw new RangeError(`a scaled update needs s > 0, got ${s}`);
  return { name: `scaled (×${s})`, transform: ({ global, trained }) => scaleDelta(global, trained, s) };
}
