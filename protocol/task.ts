/** Tasks beyond the spec's field: inferring one from the label and the model, and the one number a rule reads for it. */
import { taskOf, type ModelSpec, type Task } from './model-spec.js';

/** What the label column(s) look like: how many columns, and the distinct non-missing values seen in them. */
export interface LabelShape {
  columns: number;
  values: readonly string[];
}

/** The last layer of a user's model, when there is one: its units and activation (e.g. from a Layers model.json). */
export interface ModelOutput {
  units: number;
  activation: string;
}

/** More distinct numeric values than this in one label column make it a regression target. */
export const MAX_CLASSES_BEFORE_REGRESSION = 20;

const BOOLEAN_VALUES = new Set(['0', '1', 'yes', 'no', 'true', 'false']);
const isNumber = (v: string): boolean => v.trim() !== '' && Number.isFinite(Number(v));

/** The task a label implies: several columns -> multilabel (0/1-like) or regression; one column by its values. */
function taskOfLabel(label: LabelShape): Task {
  const numeric = label.values.length > 0 && label.values.every(isNumber);
  if (label.columns > 1) return label.values.every((v) => BOOLEAN_VALUES.has(v.toLowerCase())) ? 'multilabel' : 'regression';
  if (numeric && (label.values.some((v) => !Number.isInteger(Number(v))) || label.values.length > MAX_CLASSES_BEFORE_REGRESSION))
    return 'regression';
  return label.values.length === 2 ? 'binary' : 'classification';
}

/** The task a model's last layer implies (null when it says nothing, e.g. a relu output). */
function taskOfModel(out: ModelOutput): Task | null {
  const activation = out.activation.toLowerCase();
  if (activation === 'softmax') return 'classification';
  if (activation === 'sigmoid') return out.units === 1 ? 'binary' : 'multilabel';
  if (activation === 'linear' || activation === 'none') return 'regression';
  return null;
}

/**
 * The task of a federation when `--task` is not given: from the label (several label columns -> multilabel, or
 * regression when their values are not 0/1-like; a numeric label with non-integer values or more than 20 distinct
 * values -> regression; exactly two distinct values -> binary; else classification) and, when given, the user
 * model's output layer (sigmoid with 1 unit -> binary, with n -> multilabel, linear -> regression, softmax ->
 * classification). A model and a label that disagree throw, naming both; where both readings fit (a 2-unit softmax
 * over a two-valued label, a linear head on numeric labels, a softmax over many integer labels) the model decides.
 * @example inferTask({ columns: 1, values: ['0', '1'] }) // 'binary'
 * @example inferTask({ columns: 1, values: ['0.5', '1.25'] }, { units: 1, activation: 'sigmoid' }) // throws
 */
export function inferTask(label: LabelShape | null, model?: ModelOutput): Task {
  const fromModel = model ? taskOfModel(model) : null;
  if (!label) return fromModel ?? 'classification';
  const fromLabel = taskOfLabel(label);
  if (!fromModel || fromModel === fromLabel) return fromLabel;
  const fits =
    (fromModel === 'classification' && fromLabel === 'binary') || // a 2-unit softmax over two values
    (fromModel === 'classification' && fromLabel === 'regression' && label.values.every((v) => Number.isInteger(Number(v)))) || // many integer classes
    (fromModel === 'regression' && label.values.every(isNumber)); // a linear head on numeric labels
  if (fits) return fromModel;
  const shown = label.values.length > 6 ? `${label.values.slice(0, 6).join(', ')}, ...` : label.values.join(', ');
  throw new Error(
    `the model's output (${model?.units} ${model?.activation} unit${model?.units === 1 ? '' : 's'}: a ${fromModel} model) does not fit the label ` +
      `(${label.columns} column${label.columns === 1 ? '' : 's'}, ${label.values.length} distinct values: ${shown}: a ${fromLabel} label); pass --task to choose`,
  );
}

/** The one number a policy rule reads for a task, and which way is better (rules handle either direction). */
export interface HeadlineMetric {
  name: 'valAccuracy' | 'valR2' | 'valLoss';
  higherIsBetter: boolean;
}

/**
 * The metric rules (fairness, regression guard) read: validation accuracy (higher is better) for classification,
 * binary and multilabel (mean per-label accuracy); for regression R2 = 1 − MSE / Var(y), the loss rescaled by the
 * site's target variance (higher is better): the MSE itself has the target's units, so no fixed maxDrop or maxGap
 * could apply to it, and on a few validation rows its relative change is mostly noise.
 * @example headlineMetric({ task: 'regression' }) // { name: 'valR2', higherIsBetter: true }
 */
export function headlineMetric(spec: Pick<ModelSpec, 'task'>): HeadlineMetric {
  return taskOf(spec) === 'regression' ? { name: 'valR2', higherIsBetter: true } : { name: 'valAccuracy', higherIsBetter: true };
}
