/** Per-class precision, recall, F1 and support, as scikit-learn's `classification_report` (zero_division = 0). */

/** Precision, recall, F1 and support of one class or one average. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** A classification report: per-class scores, accuracy, averages and the confusion matrix. */
export interface Report {
  /** Scores by class name, in the order of `classes`. */
  classes: Record<string, ClassScores>;
  /** Correct predictions over all predictions (0 when there are none). */
  accuracy: number;
  /** Unweighted mean over every class, including classes with no support; support = sample count. */
  macroAvg: ClassScores;
  /** Mean weighted by each class's support; support = sample count. */
  weightedAvg: ClassScores;
  /** `confusion[t][p]`: samples of true class t predicted as p (rows true, columns predicted). */
  confusion: number[][];
}

/** `num / den`, or 0 when `den` is 0 (scikit-learn's zero_division = 0). */
function ratio(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

function checkLabel(label: number, k: number, what: string, i: number): number {
  if (!Number.isInteger(label) || label < 0 || label >= k) {
    throw new RangeError(`${what}[${i}] = ${label} is not a class index in [0, ${k})`);
  }
  return label;
}

/**
 * Scores predictions against true labels, both given as class indices into `classes`.
 * Same definitions as scikit-learn: precision tp/(tp+fp), recall tp/(tp+fn),
 * F1 2tp/(2tp+fp+fn), each 0 where its denominator is 0.
 * @example
 * const r = classificationReport([0, 1, 1], [0, 1, 0], ['cat', 'dog']);
 * r.classes.dog.recall; // 0.5
 */
export function classificationReport(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, classes: string[]): Report {
  if (yTrue.length !== yPred.length) {
    throw new RangeError(`yTrue has ${yTrue.length} labels but yPred has ${yPred.length}`);
  }
  const k = classes.length;
  if (k === 0) throw new RangeError('classes is empty');
  if (new Set(classes).size !== k) throw new RangeError('class names must be distinct');

  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = checkLabel(yTrue[i]!, k, 'yTrue', i);
    const p = checkLabel(yPred[i]!, k, 'yPred', i);
    confusion[t]![p]! += 1;
    if (t === p) correct += 1;
  }

  const n = yTrue.length;
  const scores: ClassScores[] = classes.map((_, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const fp = predicted - tp;
    const fn = support - tp;
    return {
      precision: ratio(tp, tp + fp),
      recall: ratio(tp, tp + fn),
      f1: ratio(2 * tp, 2 * tp + fp + fn),
      support,
    };
  });

  const average = (weight: (s: ClassScores) => number): ClassScores => {
    const total = scores.reduce((a, s) => a + weight(s), 0);
    const mean = (key: 'precision' | 'recall' | 'f1') =>
      ratio(
        scores.reduce((a, s) => a + weight(s) * s[key], 0),
        total,
      );
    return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support: n };
  };

  return {
    classes: Object.fromEntries(classes.map((name, c) => [name, scores[c]!])),
    accuracy: ratio(correct, n),
    macroAvg: average(() => 1),
    weightedAvg: average((s) => s.support),
    confusion,
  };
}

/**
 * Lays a report out as text, column for column like scikit-learn's `classification_report`:
 * a header, one row per class, a blank line, then accuracy, macro avg and weighted avg.
 * @example
 * console.log(formatReport(classificationReport(yTrue, yPred, ['cat', 'dog']), 2));
 */
export function formatReport(report: Report, digits = 4): string {
  const names = Object.keys(report.classes);
  const width = Math.max('weighted avg'.length, digits, ...names.map((s) => s.length));
  const num = (x: number) => x.toFixed(digits).padStart(9);
  const int = (x: number) => String(x).padStart(9);
  const row = (label: string, s: ClassScores) =>
    `${label.padStart(width)}  ${num(s.precision)} ${num(s.recall)} ${num(s.f1)} ${int(s.support)}`;

  const header = `${''.padStart(width)}  ${['precision', 'recall', 'f1-score', 'support'].map((h) => h.padStart(9)).join(' ')}`;
  const support = report.macroAvg.support;
  const lines = [
    header,
    '',
    ...names.map((name) => row(name, report.classes[name]!)),
    '',
    `${'accuracy'.padStart(width)}  ${''.padStart(9)} ${''.padStart(9)} ${num(report.accuracy)} ${int(support)}`,
    row('macro avg', report.macroAvg),
    row('weighted avg', report.weightedAvg),
  ];
  return lines.join('\n') + '\n';
}
