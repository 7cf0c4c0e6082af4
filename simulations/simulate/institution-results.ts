/** Cross-silo results: the final model on each institution's own test rows, beside the pooled result. */
import { taskOf, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import { selectRows, type Dataset } from '../../node-agent/data/index.js';
import { evaluate, type TaskScores, type TF } from '../../node-agent/train/index.js';

/** One institution's result on its own test rows: the task's loss and scores (accuracy, AUC, R2, ... as the task has them). */
export interface InstitutionResult {
  institution: string;
  /** What the institution is: `COLUMN=VALUE` or its file. */
  name: string;
  testRows: number;
  /** Null when the institution kept no test rows (or, for regression, always: it has no accuracy). */
  accuracy: number | null;
  loss: number | null;
  /** The task's scores on these rows (valAuc for binary, valR2 and valMae for regression, ...); absent without test rows. */
  scores?: TaskScores;
}

/**
 * Evaluates the model (with a user model's base) on each institution's test rows (indices into `all`).
 * @example await evaluateInstitutions({ tf, spec, weights, all, tests: [[0, 4], [7]], names: ['site=A', 'site=B'] })
 */
export async function evaluateInstitutions(args: {
  tf: TF;
  spec: ModelSpec;
  weights: NamedTensor[];
  base?: NamedTensor[];
  all: Dataset;
  tests: number[][];
  names: string[];
}): Promise<InstitutionResult[]> {
  const out: InstitutionResult[] = [];
  for (const [i, rows] of args.tests.entries()) {
    const base = { institution: `institution-${i + 1}`, name: args.names[i] ?? '', testRows: rows.length };
    if (rows.length === 0) {
      out.push({ ...base, accuracy: null, loss: null });
      continue;
    }
    const ev = await evaluate({
      tf: args.tf,
      spec: args.spec,
      weights: args.weights,
      data: selectRows(args.all, rows),
      ...(args.base ? { base: args.base } : {}),
    });
    out.push({ ...base, accuracy: Number.isFinite(ev.accuracy) ? ev.accuracy : null, loss: ev.loss, scores: ev.scores });
  }
  return out;
}

/** The columns a task's table shows beside the loss: accuracy, and AUC for binary, R2 and MAE for regression. */
function columnsOf(
  spec: Pick<ModelSpec, 'task'>,
): { title: string; of: (r: { accuracy: number | null; scores?: TaskScores }) => number | null | undefined }[] {
  const task = taskOf(spec);
  if (task === 'regression')
    return [
      { title: 'R2', of: (r) => r.scores?.valR2 },
      { title: 'MAE', of: (r) => r.scores?.valMae },
    ];
  const accuracy = { title: 'accuracy', of: (r: { accuracy: number | null }) => r.accuracy };
  return task === 'binary' ? [accuracy, { title: 'AUC', of: (r) => r.scores?.valAuc }] : [accuracy];
}

/**
 * A table of per-institution results for the task (loss, and accuracy, AUC, R2 or MAE as it has them), then the pooled line.
 * @example formatInstitutions(spec, results, { accuracy: 0.91, loss: 0.3, rows: 120 })
 */
export function formatInstitutions(
  spec: Pick<ModelSpec, 'task'>,
  results: readonly InstitutionResult[],
  pooled: { accuracy: number | null; loss: number; rows: number; scores?: TaskScores },
): string {
  const columns = columnsOf(spec);
  const show = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
  const rows = [
    ['institution', 'is', 'test rows', 'loss', ...columns.map((c) => c.title)],
    ...results.map((r) => [r.institution, r.name, String(r.testRows), show(r.loss), ...columns.map((c) => show(c.of(r)))]),
    ['pooled', '', String(pooled.rows), show(pooled.loss), ...columns.map((c) => show(c.of(pooled)))],
  ];
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((c, j) => (j <= 1 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number))).join('  ');
  return ['Per institution, each on its own test rows (as cross-silo benchmarks report):', ...rows.map(line)].join('\n');
}
