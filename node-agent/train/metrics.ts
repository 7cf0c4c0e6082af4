/** Every task's metrics as pure functions over predictions and true labels: no TensorFlow.js, no I/O. */

/** Counts at a threshold: a prediction is positive when its probability is >= the threshold. */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

/**
 * ROC AUC by the Mann-Whitney statistic: the probability that a random positive scores above a random negative,
 * ties counting one half (average ranks). Null when the labels hold only one class (AUC is undefined).
 * @example rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) // 0.75
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`rocAuc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based; a tie group shares the mean of its ranks
    for (let k = i; k <= j; k++) {
      if ((labels[order[k] as number] as number) > 0.5) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Mean squared difference between the predicted probability and the 0/1 outcome.
 * @example brierScore([0.9, 0.2], [1, 0]) // 0.025
 */
export function brierScore(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probs.length; i++) sum += ((probs[i] as number) - (labels[i] as number)) ** 2;
  return ratio(sum, probs.length);
}

/**
 * True/false positives/negatives at a threshold.
 * @example confusionAt([0.9, 0.2, 0.6], [1, 1, 0], 0.5) // { tp: 1, fp: 1, tn: 0, fn: 1 }
 */
export function confusionAt(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < probs.length; i++) {
    const predicted = (probs[i] as number) >= threshold;
    const actual = (labels[i] as number) > 0.5;
    if (predicted && actual) c.tp++;
    else if (predicted) c.fp++;
    else if (actual) c.fn++;
    else c.tn++;
  }
  return c;
}

export interface BinaryScores {
  accuracy: number;
  /** Null when the rows hold one class only. */
  auc: number | null;
  /** Recall of the positive class (true positive rate) at the threshold. */
  sensitivity: number;
  /** Recall of the negative class (true negative rate) at the threshold. */
  specificity: number;
  precision: number;
  f1: number;
  brier: number;
  threshold: number;
  confusion: Confusion;
}

/**
 * A binary outcome's scores from the positive-class probabilities.
 * @example binaryScores([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 1], 0.5).sensitivity // 0.5
 */
export function binaryScores(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): BinaryScores {
  const confusion = confusionAt(probs, labels, threshold);
  const { tp, fp, tn, fn } = confusion;
  const precision = ratio(tp, tp + fp);
  const sensitivity = ratio(tp, tp + fn);
  return {
    accuracy: ratio(tp + tn, probs.length),
    auc: rocAuc(probs, labels),
    sensitivity,
    specificity: ratio(tn, tn + fp),
    precision,
    f1: ratio(2 * precision * sensitivity, precision + sensitivity),
    brier: brierScore(probs, labels),
    threshold,
    confusion,
  };
}

/** One bin of a reliability diagram. */
export interface CalibrationBin {
  from: number;
  to: number;
  count: number;
  /** Mean predicted probability of the bin's rows (null when empty). */
  meanPredicted: number | null;
  /** Share of positives among the bin's rows (null when empty). */
  observed: number | null;
}

/**
 * Equal-width bins of predicted probability, each with its mean prediction and its observed positive rate.
 * @example calibrationBins([0.05, 0.95], [0, 1], 10)[9] // { from: 0.9, to: 1, count: 1, meanPredicted: 0.95, observed: 1 }
 */
export function calibrationBins(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
  const count = new Array<number>(bins).fill(0);
  const predicted = new Array<number>(bins).fill(0);
  const positive = new Array<number>(bins).fill(0);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    count[b]! += 1;
    predicted[b]! += p;
    positive[b]! += (labels[i] as number) > 0.5 ? 1 : 0;
  }
  return count.map((c, b) => ({
    from: b / bins,
    to: (b + 1) / bins,
    count: c,
    meanPredicted: c > 0 ? (predicted[b] as number) / c : null,
    observed: c > 0 ? (positive[b] as number) / c : null,
  }));
}

export interface LabelScores {
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  auc: number | null;
  /** Rows where the label is positive. */
  support: number;
}

export interface MultilabelScores {
  labels: Record<string, LabelScores>;
  /** Pooled counts over every label. */
  micro: { precision: number; recall: number; f1: number };
  /** Unweighted means over labels (AUC over the labels where it is defined; null when none). */
  macro: { precision: number; recall: number; f1: number; auc: number | null };
  /** Mean per-label accuracy: the number the policy reads for a multilabel task. */
  accuracy: number;
}

/**
 * Per-label precision, recall, F1, accuracy and AUC of `n x k` probabilities against `n x k` 0/1 targets, with
 * micro and macro averages.
 * @example multilabelScores([0.9, 0.1, 0.2, 0.8], [1, 0, 0, 1], ['a', 'b']).macro.f1 // 1
 */
export function multilabelScores(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
  names: readonly string[],
  threshold = 0.5,
): MultilabelScores {
  const k = names.length;
  const n = Math.floor(probs.length / Math.max(k, 1));
  if (probs.length !== n * k || targets.length !== n * k)
    throw new RangeError(`multilabelScores: ${probs.length} probabilities and ${targets.length} targets for ${k} labels`);
  const column = (data: ArrayLike<number>, j: number): number[] => Array.from({ length: n }, (_, i) => data[i * k + j] as number);
  const pooled: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  const perLabel = names.map((_, j) => {
    const p = column(probs, j);
    const t = column(targets, j);
    const c = confusionAt(p, t, threshold);
    for (const key of ['tp', 'fp', 'tn', 'fn'] as const) pooled[key] += c[key];
    const precision = ratio(c.tp, c.tp + c.fp);
    const recall = ratio(c.tp, c.tp + c.fn);
    return {
      precision,
      recall,
      f1: ratio(2 * precision * recall, precision + recall),
      accuracy: ratio(c.tp + c.tn, n),
      auc: rocAuc(p, t),
      support: c.tp + c.fn,
    };
  });
  const mean = (values: number[]): number =>
    ratio(
      values.reduce((a, b) => a + b, 0),
      values.length,
    );
  const aucs = perLabel.map((s) => s.auc).filter((a): a is number => a !== null);
  const microP = ratio(pooled.tp, pooled.tp + pooled.fp);
  const microR = ratio(pooled.tp, pooled.tp + pooled.fn);
  return {
    labels: Object.fromEntries(names.map((name, j) => [name, perLabel[j] as LabelScores])),
    micro: { precision: microP, recall: microR, f1: ratio(2 * microP * microR, microP + microR) },
    macro: {
      precision: mean(perLabel.map((s) => s.precision)),
      recall: mean(perLabel.map((s) => s.recall)),
      f1: mean(perLabel.map((s) => s.f1)),
      auc: aucs.length > 0 ? mean(aucs) : null,
    },
    accuracy: mean(perLabel.map((s) => s.accuracy)),
  };
}

export interface TargetScores {
  mae: number;
  mse: number;
  rmse: number;
  /** 1 - SS_res / SS_tot; 1 for a perfect fit, 0 for predicting the mean (and 0 when the target is constant and missed). */
  r2: number;
}

export interface RegressionScores {
  targets: Record<string, TargetScores>;
  /** Means over the targets. */
  mean: TargetScores;
}

/**
 * MAE, MSE, RMSE and R2 per target of `n x k` predictions against `n x k` true values, and their means over targets.
 * @example regressionScores([1, 2, 4], [1, 3, 3], ['y']).targets.y.r2 // 0.25
 */
export function regressionScores(predicted: ArrayLike<number>, truth: ArrayLike<number>, names: readonly string[]): RegressionScores {
  const k = names.length;
  const n = Math.floor(predicted.length / Math.max(k, 1));
  if (predicted.length !== n * k || truth.length !== n * k)
    throw new RangeError(`regressionScores: ${predicted.length} predictions and ${truth.length} true values for ${k} targets`);
  const perTarget = names.map((_, j) => {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += truth[i * k + j] as number;
    mean = ratio(mean, n);
    let abs = 0;
    let res = 0;
    let tot = 0;
    for (let i = 0; i < n; i++) {
      const t = truth[i * k + j] as number;
      const e = (predicted[i * k + j] as number) - t;
      abs += Math.abs(e);
      res += e * e;
      tot += (t - mean) ** 2;
    }
    const mse = ratio(res, n);
    return { mae: ratio(abs, n), mse, rmse: Math.sqrt(mse), r2: tot > 0 ? 1 - res / tot : res === 0 ? 1 : 0 };
  });
  const avg = (key: keyof TargetScores): number =>
    ratio(
      perTarget.reduce((a, s) => a + s[key], 0),
      k,
    );
  return {
    targets: Object.fromEntries(names.map((name, j) => [name, perTarget[j] as TargetScores])),
    mean: { mae: avg('mae'), mse: avg('mse'), rmse: avg('rmse'), r2: avg('r2') },
  };
}
