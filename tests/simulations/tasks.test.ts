/** `cohort simulate` for each non-classification task, end to end: real coordinator, real agents, synthetic CSVs. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrng } from '../../crypto/prng.js';
import { runCli, type CliResult } from './cli-helpers.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cohort-tasks-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

type Summary = {
  config: Record<string, any>;
  rounds: Record<string, any>[];
  final: Record<string, any>;
  policy: { outcome: string }[];
  model: { path: string };
};

/** Runs `cohort simulate` (3 institutions, 2 rounds) into a fresh run folder; fails with the output unless it exits 0. */
async function simulate(name: string, args: string[]): Promise<{ out: string; result: CliResult; summary: Summary }> {
  const out = join(root, name);
  const common = ['--institutions', '3', '--rounds', '2', '--local-epochs', '2', '--batch-size', '10'];
  const result = await runCli(['simulate', '--out', out, ...common, ...args], { timeoutMs: 40_000 });
  if (result.code !== 0)
    throw new Error(`simulate ${args.join(' ')} exited ${result.code ?? result.signal}\n${result.stdout}\n${result.stderr}`);
  return { out, result, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary };
}

/** A CSV of `rows` rows: three standard-normal features, then the columns `label` computes from them. */
function writeCsv(path: string, rows: number, seed: number, labels: Record<string, (z: number[], noise: number) => string>): void {
  const rng = createPrng(seed);
  const lines = [['x1', 'x2', 'x3', ...Object.keys(labels)].join(',')];
  for (let i = 0; i < rows; i++) {
    const z = [rng.normal(), rng.normal(), rng.normal()];
    lines.push([...z.map((v) => v.toFixed(4)), ...Object.values(labels).map((f) => f(z, rng.normal()))].join(','));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

const inUnit = (x: unknown): boolean => typeof x === 'number' && x >= 0 && x <= 1;

describe('cohort simulate, binary task inferred from a yes/no label (class weights, a few rows without a label)', () => {
  let run: Awaited<ReturnType<typeof simulate>>;
  beforeAll(async () => {
    const path = join(root, 'binary.csv');
    // About 30% positives: an imbalanced outcome; every 50th row has no label.
    let row = 0;
    writeCsv(path, 600, 1, { outcome: (z, e) => (row++ % 50 === 7 ? '' : 2 * z[0]! - z[1]! + 0.5 * e > 1 ? 'yes' : 'no') });
    run = await simulate('binary', [
      '--dataset',
      `csv:${path}`,
      '--label',
      'outcome',
      '--model',
      'logreg',
      '--lr',
      '0.1',
      '--class-weight',
      'balanced',
    ]);
  });

  it('trains one sigmoid unit for the positive class "yes" and reports AUC, sensitivity, specificity, Brier and calibration', () => {
    const { summary, out, result } = run;

    expect(summary.config.spec.task).toBe('binary');
    expect(summary.config.spec.classes).toEqual(['no', 'yes']);
    expect(summary.final.task).toBe('binary');
    expect(summary.final.binary.auc).toBeGreaterThan(0.85);
    expect(inUnit(summary.final.binary.sensitivity) && inUnit(summary.final.binary.specificity)).toBe(true);
    expect(summary.final.binary.sensitivity).toBeGreaterThan(0.6); // balanced class weights: the minority class is found
    expect(summary.final.binary.brier).toBeLessThan(0.2);
    expect(summary.final.binary.calibration).toHaveLength(10);
    expect(summary.rounds.every((r) => inUnit(r.auc))).toBe(true);
    expect(readFileSync(join(out, 'calibration.svg'), 'utf8')).toMatch(/^<svg[\s\S]*Mean predicted probability/);
    expect(result.stdout).toMatch(/Task: binary \(positive class "yes"\), inferred from the label/);
    expect(result.stderr + result.stdout).not.toMatch(/TypeError/);
  });

  it("puts the task and the sites' AUC on the model card, and the training terms in the study", () => {
    const card = readFileSync(join(run.out, run.summary.model.path.replace(/\.cohort$/, '.card.md')), 'utf8');

    expect(card).toMatch(/\*\*Task:\*\* binary/);
    expect(card).toMatch(/\| institution \| accuracy \| AUC \| sensitivity \| specificity \| Brier \| samples \|/);
    expect(run.summary.config.training).toEqual({ classWeight: 'balanced' });
  });
});

describe('cohort simulate, multilabel task from two 0/1 label columns (adam)', () => {
  let run: Awaited<ReturnType<typeof simulate>>;
  beforeAll(async () => {
    const path = join(root, 'multilabel.csv');
    writeCsv(path, 600, 2, { a: (z) => (z[0]! > 0 ? '1' : '0'), b: (z) => (z[1]! + z[2]! > 0 ? '1' : '0') });
    run = await simulate('multilabel', [
      '--dataset',
      `csv:${path}`,
      '--label',
      'a,b',
      '--model',
      'mlp',
      '--lr',
      '0.01',
      '--optimizer',
      'adam',
    ]);
  });

  it('reports per-label precision, recall, F1 and AUC with micro and macro averages', () => {
    const { summary } = run;

    expect(summary.config.spec.task).toBe('multilabel');
    expect(summary.config.spec.classes).toEqual(['a', 'b']);
    for (const name of ['a', 'b']) {
      const s = summary.final.multilabel.labels[name];
      expect(s.f1).toBeGreaterThan(0.8);
      expect(s.auc).toBeGreaterThan(0.9);
      expect(inUnit(s.precision) && inUnit(s.recall)).toBe(true);
    }
    expect(summary.final.multilabel.macro.f1).toBeGreaterThan(0.8);
    expect(summary.final.multilabel.micro.f1).toBeGreaterThan(0.8);
    expect(summary.final.accuracy).toBeCloseTo(
      (summary.final.multilabel.labels.a.accuracy + summary.final.multilabel.labels.b.accuracy) / 2,
      10,
    );
    expect(run.result.stdout).toMatch(/^\s*macro avg\s+\d\.\d{4}/m);
  });
});

describe('cohort simulate, regression task inferred from a continuous target', () => {
  let run: Awaited<ReturnType<typeof simulate>>;
  beforeAll(async () => {
    const path = join(root, 'regression.csv');
    // Targets of about unit scale: the first round's default update bound is sqrt(parameters) (docs/tasks.md).
    writeCsv(path, 600, 3, { y: (z, e) => (0.8 * z[0]! - 0.5 * z[1]! + 0.2 + 0.2 * e).toFixed(4) });
    run = await simulate('regression', ['--dataset', `csv:${path}`, '--label', 'y', '--model', 'logreg', '--lr', '0.05']);
  });

  it('fits the linear target (R2 > 0.5) with MAE and RMSE, plots predicted against true, and publishes every round', () => {
    const { summary, out } = run;

    expect(summary.config.spec.task).toBe('regression');
    expect(summary.final.task).toBe('regression');
    expect(summary.final.accuracy).toBeUndefined();
    const y = summary.final.regression.targets.y;
    expect(y.r2).toBeGreaterThan(0.5);
    expect(y.rmse).toBeCloseTo(Math.sqrt(y.mse), 10);
    expect(y.mae).toBeLessThanOrEqual(y.rmse);
    expect(summary.final.loss).toBeCloseTo(y.mse, 4);
    expect(summary.policy.map((p) => p.outcome)).toEqual(['published', 'published']);
    expect(summary.rounds.every((r) => typeof r.r2 === 'number')).toBe(true);
    expect(readFileSync(join(out, 'predicted-vs-true.svg'), 'utf8')).toMatch(/^<svg[\s\S]*Predicted y/);
    expect(readFileSync(join(out, 'rounds.csv'), 'utf8').split('\n')[1]).toMatch(/^1,3,[\d.e-]+,,/); // no accuracy for regression
  });

  it("has the regression guard read the sites' R2 (the loss over the target's variance), higher is better", () => {
    const decisions =
      (run.summary.policy as unknown as { round: number; decisions: { rule: string; message: string }[] }[]).find((p) => p.round === 2)
        ?.decisions ?? [];

    const guard = decisions.find((d) => d.rule === 'regression');

    expect(guard?.message).toMatch(/^median valR2 [\d.]+ over 3 sites' reports, published model v1 [\d.]+: at most 0.1 lower allowed$/);
  });
});
