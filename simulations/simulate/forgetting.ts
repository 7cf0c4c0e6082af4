/** Continual learning made visible: the pretrained model's own task, evaluated before and after federated fine-tuning. */
import type { NamedTensor } from '../../protocol/index.js';
import { rowWidth, selectRows, type Dataset } from '../../node-agent/data/index.js';
import { evaluate, type TF } from '../../node-agent/train/index.js';
import { formatDataRef } from '../../node-agent/data-source.js';
import { userModelSpec, type UserFederationModel } from '../../node-agent/cli/user-model.js';
import { readPretrainMetadata } from '../../node-agent/cli/pretrain-metadata.js';
import { prepareData, type DatasetChoice } from './dataset.js';

/** The base task's score, for the report and summary.json. */
export interface ForgettingReport {
  baseTask: { dataset: string; classes: string[]; rows: number };
  before: { accuracy: number; loss: number };
  after: { accuracy: number; loss: number };
  /** after - before (negative: forgotten). */
  change: number;
}

/** A base task ready to score: its held-out rows, the pretrained model on them, and how to score a fine-tuned body. */
export interface BaseTaskProbe {
  before: { accuracy: number; loss: number };
  rows: number;
  /**
   * Scores the pretrained model with every tensor the fine-tuned model also has (same name and shape) replaced by the
   * fine-tuned value, except those of `keepLayer` (a replaced head: the base task keeps its own).
   */
  after(fineTuned: readonly NamedTensor[], keepLayer?: string): Promise<ForgettingReport>;
}

/**
 * Scores the pretrained file on its own task: the base data's held-out rows (for a `cohort pretrain` file, the rows
 * that command held out: same classes, seed and test fraction), with the file's own head. After fine-tuning, the
 * same rows are scored by the file's head on the fine-tuned layers: what the base task lost or kept.
 * @example const probe = await baseTaskProbe(tf, 'pretrained/model.json', { kind: 'mnist' }); (await probe.after(finalTensors)).change
 */
export async function baseTaskProbe(tf: TF, modelJson: string, choice: DatasetChoice): Promise<BaseTaskProbe> {
  const meta = readPretrainMetadata(modelJson);
  const data = prepareData(choice, 'mlp', 1, { kind: 'iid' }, meta?.seed ?? 0, meta?.testFraction ?? 0.2, {
    ...(meta ? { classes: meta.classes } : {}),
  });
  const testSet: Dataset = selectRows(data.all, data.test);
  let base: UserFederationModel;
  try {
    base = await userModelSpec(tf, modelJson, { spec: data.spec, width: rowWidth(data.all) });
  } catch (cause) {
    throw new Error(`--base-task-data ${formatDataRef(choice)}: ${(cause as Error).message}`, { cause });
  }
  const score = async (weights: NamedTensor[], frozen: NamedTensor[]): Promise<{ accuracy: number; loss: number }> => {
    const ev = await evaluate({ tf, spec: base.spec, weights, base: frozen, data: testSet });
    return { accuracy: ev.accuracy, loss: ev.loss };
  };
  const before = await score(base.user.initial, base.user.base);
  return {
    before,
    rows: testSet.n,
    async after(fineTuned, keepLayer) {
      const byName = new Map(
        fineTuned.filter((t) => keepLayer === undefined || !t.name.startsWith(`${keepLayer}/`)).map((t) => [t.name, t]),
      );
      const take = (t: NamedTensor): NamedTensor => {
        const tuned = byName.get(t.name);
        return tuned && tuned.shape.join() === t.shape.join() ? tuned : t;
      };
      const after = await score(base.user.initial.map(take), base.user.base.map(take));
      return {
        baseTask: { dataset: formatDataRef(choice), classes: [...data.all.classes], rows: testSet.n },
        before,
        after,
        change: after.accuracy - before.accuracy,
      };
    },
  };
}

/**
 * The report's lines for the base task.
 * @example formatForgetting(report) // 'Base task (mnist, classes 0, 1, 2, 3, 4; 1,020 held-out rows): accuracy 0.9814 before ...'
 */
export function formatForgetting(r: ForgettingReport): string {
  return `Base task (${r.baseTask.dataset}, classes ${r.baseTask.classes.join(', ')}; ${r.baseTask.rows} held-out rows, the pretrained head on the fine-tuned layers): accuracy ${r.before.accuracy.toFixed(4)} before federated fine-tuning, ${r.after.accuracy.toFixed(4)} after (${r.change >= 0 ? '+' : ''}${r.change.toFixed(4)}${r.change < -0.05 ? ': catastrophic forgetting' : ''}).`;
}
