/** A final model's test-set report for its task: the summary's `final` fields, the text shown, and the plots written. */
import { outputUnits, taskOf, type ModelSpec, type Task } from '../../protocol/index.js';
import type { Dataset } from '../../node-agent/data/index.js';
import {
  binaryScores,
  calibrationBins,
  multilabelScores,
  regressionScores,
  type BinaryScores,
  type CalibrationBin,
  type MultilabelScores,
  type RegressionScores,
} from '../../node-agent/train/metrics.js';
import { classificationReport, formatReport, type Report } from '../../coordinator/models/classification-report.js';
import { calibrationSvg, predictedVsTrueSvg } from './task-plots.js';

/** What `summary.json` records under `final` (accuracy and the per-class report absent for regression and multilabel). */
export interface FinalReport {
  task: Task;
  loss: number;
  /** Classification, binary: share correct; multilabel: mean per-label accuracy; absent for regression. */
  accuracy?: number;
  report?: Report['classes'];
  macroAvg?: Report['macroAvg'];
  weightedAvg?: Report['weightedAvg'];
  binary?: Omit<BinaryScores, 'confusion'> & { confusion: BinaryScores['confusion']; calibration: CalibrationBin[] };
  multilabel?: MultilabelScores;
  regression?: RegressionScores;
}

/** The test-set evaluation a report is made from (trainer `evaluate`'s result). */
export interface TestEvaluation {
  loss: number;
  accuracy: number;
  predicted: Int32Array;
  outputs: Float32Array;
}

/** The columns of the true values, laid out as the model's outputs (binary: the 0/1 label). */
function truthOf(task: Task, test: Dataset): Float32Array {
  if (task === 'binary') return Float32Array.from(test.y);
  return test.targets ?? new Float32Array(0);
}

const f4 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(4));

/**
 * Scores a test-set evaluation for the spec's task; `threshold` decides a positive (binary, multilabel).
 * @example const { final, text } = finalReport(spec, testSet, ev, 0.5)
 */
export function finalReport(spec: ModelSpec, test: Dataset, ev: TestEvaluation, threshold = 0.5): { final: FinalReport; text: string } {
  const task = taskOf(spec);
  const truth = truthOf(task, test);
  if (task === 'classification' || task === 'binary') {
    const report = classificationReport(test.y, ev.predicted, test.classes);
    const final: FinalReport = {
      task,
      accuracy: report.accuracy,
      loss: ev.loss,
      report: report.classes,
      macroAvg: report.macroAvg,
      weightedAvg: report.weightedAvg,
    };
    let text = formatReport(report);
    if (task === 'binary') {
      const b = binaryScores(ev.outputs, truth, threshold);
      final.binary = { ...b, calibration: calibrationBins(ev.outputs, truth, 10) };
      text +=
        `\npositive class "${spec.classes[1]}", threshold ${threshold}: ROC AUC ${f4(b.auc)}, sensitivity ${f4(b.sensitivity)}, ` +
        `specificity ${f4(b.specificity)}, Brier score ${f4(b.brier)} (tp ${b.confusion.tp}, fp ${b.confusion.fp}, tn ${b.confusion.tn}, fn ${b.confusion.fn})\n`;
    }
    return { final, text };
  }
  if (task === 'multilabel') {
    const m = multilabelScores(ev.outputs, truth, spec.classes, threshold);
    const width = Math.max(9, ...spec.classes.map((c) => c.length));
    const row = (name: string, p: number, r: number, f: number, auc: number | null | string, support: number | string): string =>
      `${name.padStart(width)}  ${[p, r, f].map((x) => x.toFixed(4).padStart(9)).join(' ')} ${(typeof auc === 'string' ? auc : f4(auc)).padStart(9)} ${String(support).padStart(9)}`;
    const lines = [
      `${''.padStart(width)}  ${['precision', 'recall', 'f1-score', 'auc', 'support'].map((h) => h.padStart(9)).join(' ')}`,
      '',
      ...spec.classes.map((name) => {
        const s = m.labels[name]!;
        return row(name, s.precision, s.recall, s.f1, s.auc, s.support);
      }),
      '',
      row('micro avg', m.micro.precision, m.micro.recall, m.micro.f1, '', ''),
      row('macro avg', m.macro.precision, m.macro.recall, m.macro.f1, m.macro.auc, ''),
      `mean per-label accuracy ${m.accuracy.toFixed(4)} (threshold ${threshold}), loss ${ev.loss.toFixed(4)}`,
    ];
    return { final: { task, accuracy: m.accuracy, loss: ev.loss, multilabel: m }, text: `${lines.join('\n')}\n` };
  }
  const r = regressionScores(ev.outputs, truth, spec.classes);
  const width = Math.max(6, ...spec.classes.map((c) => c.length));
  const lines = [
    `${'target'.padStart(width)}  ${['MAE', 'RMSE', 'R2'].map((h) => h.padStart(9)).join(' ')}`,
    ...spec.classes.map((name) => {
      const s = r.targets[name]!;
      return `${name.padStart(width)}  ${[s.mae, s.rmse, s.r2].map((x) => x.toFixed(4).padStart(9)).join(' ')}`;
    }),
    `loss (MSE) ${ev.loss.toFixed(4)}`,
  ];
  return { final: { task, loss: ev.loss, regression: r }, text: `${lines.join('\n')}\n` };
}

/**
 * The task's plots, by file name: `calibration.svg` (binary) or `predicted-vs-true[-TARGET].svg` (regression; one per
 * target when there are several); none for classification and multilabel.
 * @example for (const [name, svg] of Object.entries(await taskPlots(spec, testSet, ev))) writeFileSync(join(dir, name), svg)
 */
export async function taskPlots(spec: ModelSpec, test: Dataset, ev: TestEvaluation): Promise<Record<string, string>> {
  const task = taskOf(spec);
  if (task === 'binary') {
    const truth = truthOf(task, test);
    return {
      'calibration.svg': await calibrationSvg(
        calibrationBins(ev.outputs, truth, 10),
        `Calibration on the test set (${test.n} rows, positive "${spec.classes[1]}")`,
      ),
    };
  }
  if (task !== 'regression') return {};
  const k = outputUnits(spec);
  const truth = truthOf(task, test);
  const out: Record<string, string> = {};
  for (let j = 0; j < k; j++) {
    const column = (data: Float32Array): Float32Array => Float32Array.from({ length: test.n }, (_, i) => data[i * k + j] as number);
    const name = spec.classes[j] as string;
    const file = k === 1 ? 'predicted-vs-true.svg' : `predicted-vs-true-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.svg`;
    out[file] = await predictedVsTrueSvg(column(ev.outputs), column(truth), name, `Predicted against true ${name} (${test.n} test rows)`);
  }
  return out;
}
