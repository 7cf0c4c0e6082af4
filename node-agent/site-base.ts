/** The base of a user model at a site: its frozen tensors (checked against the spec's pin) and, under FedBN, the site's own local tensors. */
import type { NamedTensor } from '../protocol/codec.js';
import type { ModelSpec } from '../protocol/model-spec.js';
import { siteBase, type TF } from './train/index.js';

/** What the agent keeps of a user model between rounds. */
export interface SiteBase {
  /**
   * The tensors that do not travel, for this spec: read from the site's model file and checked against
   * `spec.layers.baseHash` once per pin (throws MODEL_BASE_MISMATCH saying why), with the site's FedBN-local tensors
   * as last trained here.
   */
  tensors(tf: TF, spec: ModelSpec): Promise<NamedTensor[]>;
  /** The same, once `tensors` has checked the base for this spec. */
  current(spec: ModelSpec): NamedTensor[];
  /** Keeps the FedBN-local tensors a round trained, for the next round (in memory: a restarted agent starts again from the file's). */
  keepLocal(local: NamedTensor[]): void;
}

/**
 * The site's base store for a model file (none: a user model's task is refused with MODEL_BASE_MISMATCH).
 * @example const base = createSiteBase('/data/model/model.json'); await base.tensors(tf, spec);
 */
export function createSiteBase(modelFile: string | undefined): SiteBase {
  let held: { pin: string; tensors: Map<string, NamedTensor> } | undefined;
  const pinOf = (spec: ModelSpec): string => spec.layers?.baseHash ?? '';
  const current = (spec: ModelSpec): NamedTensor[] => (held && held.pin === pinOf(spec) ? [...held.tensors.values()] : []);
  return {
    async tensors(tf, spec) {
      if (!held || held.pin !== pinOf(spec)) {
        const tensors = await siteBase(tf, spec, modelFile);
        held = { pin: pinOf(spec), tensors: new Map(tensors.map((t) => [t.name, t])) };
      }
      return current(spec);
    },
    current,
    keepLocal(local) {
      for (const t of local) held?.tensors.set(t.name, t);
    },
  };
}
