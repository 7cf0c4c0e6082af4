/** Every task's metrics against cases worked out by hand (in the comments), ties and empty classes included. */
import { describe, expect, it } from 'vitest';
import {
  binaryScores,
  brierScore,
  calibrationBins,
  confusionAt,
  multilabelScores,
  regressionScores,
  rocAuc,
} from '../../../node-agent/train/metrics.js';

describe('rocAuc', () => {
  it('counts each positive-negative pair ranked right as 1 and each tie as 1/2', () => {
    // Positives score 0.8, 0.4, 0.4; negatives 0.4, 0.2. Pairs: (0.8 vs 0.4) 1, (0.8 vs 0.2) 1, (0.4 vs 0.4) 1/2 twice,
    // (0.4 vs 0.2) 1 twice: (1 + 1 + 0.5 + 1 + 0.5 + 1) / 6 = 5 / 6.
    const scores = [0.8, 0.4, 0.4, 0.4, 0.2];
    const labels = [1, 1, 1, 0, 0];

    const auc = rocAuc(scores, labels);

    expect(auc).toBeCloseTo(5 / 6, 12);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 when every score ties, null with one class', () => {
    expect(rocAuc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.9], [1, 1, 0])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBe(0.5);
    expect(rocAuc([0.3, 0.6], [1, 1])).toBeNull();
  });
});

describe('binary scores', () => {
  it('gives sensitivity, specificity, accuracy and Brier score at the threshold', () => {
    // p >= 0.5 predicts positive: rows 1 (tp), 3 (fp); row 2 (tn), row 4 (fn: 0.4 < 0.5).
    const probs = [0.9, 0.2, 0.6, 0.4];
    const labels = [1, 0, 0, 1];

    const b = binaryScores(probs, labels, 0.5);

    expect(b.confusion).toEqual({ tp: 1, fp: 1, tn: 1, fn: 1 });
    expect(b.sensitivity).toBe(0.5);
    expect(b.specificity).toBe(0.5);
    expect(b.accuracy).toBe(0.5);
    // (0.01 + 0.04 + 0.36 + 0.36) / 4 = 0.1925
    expect(b.brier).toBeCloseTo(0.1925, 12);
    // Pairs (pos 0.9, 0.4 vs neg 0.2, 0.6): 0.9>0.2, 0.9>0.6, 0.4>0.2, 0.4<0.6: 3 / 4.
    expect(b.auc).toBe(0.75);
  });

  it('moves predictions with the threshold', () => {
    expect(confusionAt([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 1], 0.3)).toEqual({ tp: 2, fp: 1, tn: 1, fn: 0 });
    expect(brierScore([1, 0], [1, 0])).toBe(0);
  });

  it('bins probabilities in ten equal bins with the mean prediction and the observed rate', () => {
    const bins = calibrationBins([0.05, 0.15, 0.12, 0.95, 1], [0, 1, 0, 1, 1], 10);

    expect(bins).toHaveLength(10);
    expect(bins[0]).toEqual({ from: 0, to: 0.1, count: 1, meanPredicted: 0.05, observed: 0 });
    expect(bins[1]?.count).toBe(2);
    expect(bins[1]?.meanPredicted).toBeCloseTo(0.135, 12);
    expect(bins[1]?.observed).toBe(0.5);
    expect(bins[9]).toMatchObject({ count: 2, observed: 1 }); // p = 1 falls in the last bin
    expect(bins[5]).toMatchObject({ count: 0, meanPredicted: null, observed: null });
  });
});

describe('multilabelScores', () => {
  it('gives per-label precision, recall and F1, micro and macro averages, and the mean label accuracy', () => {
    // Label a: predictions at 0.5 = [1, 1, 0], truth [1, 0, 1] -> tp 1, fp 1, fn 1: P 1/2, R 1/2, F1 1/2, acc 1/3.
    // Label b: predictions [0, 1, 1], truth [0, 1, 1] -> tp 2: P 1, R 1, F1 1, acc 1.
    const probs = [0.9, 0.1, 0.7, 0.8, 0.2, 0.6];
    const targets = [1, 0, 0, 1, 1, 1];

    const m = multilabelScores(probs, targets, ['a', 'b']);

    expect(m.labels.a).toMatchObject({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(m.labels.a?.accuracy).toBeCloseTo(1 / 3, 12);
    expect(m.labels.b).toMatchObject({ precision: 1, recall: 1, f1: 1, accuracy: 1, support: 2 });
    expect(m.macro.f1).toBe(0.75);
    // Micro: tp 3, fp 1, fn 1 -> P 3/4, R 3/4, F1 3/4.
    expect(m.micro).toEqual({ precision: 0.75, recall: 0.75, f1: 0.75 });
    expect(m.accuracy).toBeCloseTo(2 / 3, 12);
    // AUC a: pos 0.9, 0.2 vs neg 0.7: 1 of 2 -> 0.5; b: pos 0.8, 0.6 vs neg 0.1 -> 1; macro 0.75.
    expect(m.labels.a?.auc).toBe(0.5);
    expect(m.macro.auc).toBe(0.75);
  });
});

describe('regressionScores', () => {
  it('gives MAE, RMSE and R2 per target and their means', () => {
    // Target y: truth [1, 3, 3] (mean 7/3), predicted [1, 2, 4]: errors 0, -1, 1 -> MAE 2/3, MSE 2/3, SS_res 2, SS_tot 8/3, R2 1 - 2 / (8/3) = 0.25.
    // Target z: predicted = truth -> 0, 0, R2 1.
    const predicted = [1, 5, 2, 6, 4, 7];
    const truth = [1, 5, 3, 6, 3, 7];

    const r = regressionScores(predicted, truth, ['y', 'z']);

    expect(r.targets.y?.mae).toBeCloseTo(2 / 3, 12);
    expect(r.targets.y?.rmse).toBeCloseTo(Math.sqrt(2 / 3), 12);
    expect(r.targets.y?.r2).toBeCloseTo(0.25, 12);
    expect(r.targets.z).toEqual({ mae: 0, mse: 0, rmse: 0, r2: 1 });
    expect(r.mean.r2).toBeCloseTo(0.625, 12);
  });

  it('gives R2 0 for predicting the mean and below 0 for worse', () => {
    expect(regressionScores([2, 2, 2], [1, 2, 3], ['y']).targets.y?.r2).toBe(0);
    expect(regressionScores([3, 2, 1], [1, 2, 3], ['y']).targets.y?.r2).toBe(-3); // SS_res 8, SS_tot 2
  });
});
