/** Cross-silo results: the final model on each institution's own test rows, beside the pooled result. */
import type { ModelSpec, NamedTensor } from '../../protocol/index.js';
import { selectRows, type Dataset } from '../../node-agent/data/index.js';
import { evaluate, type TF } from '../../node-agent/train/index.js';

/** One institution's result on its own test rows. */
export interface InstitutionResult {
  institution: string;
  /** What the institution is: `COLUMN=VALUE` or its file. */
  name: string;
  testRows: number;
  /** Null when the institution kept no test rows. */
  accuracy: number | null;
  loss: number | null;
}

/**
 * Evaluates the model on each institution's test rows (indices into `all`).
 * @example await evaluateInstitutions({ tf, spec, weights, all, tests: [[0, 4], [7]], names: ['site=A', 'site=B'] })
 */
export async function evaluateInstitutions(args: { tf: TF; spec: ModelSpec; weights: NamedTensor[]; all: Dataset; tests: number[][]; names: string[] }): Promise<InstitutionResult[]> {
  const out: InstitutionResult[] = [];
  for (const [i, rows] of args.tests.entries()) {
    const base = { institution: `institution-${i + 1}`, name: args.names[i] ?? '', testRows: rows.length };
    if (rows.length === 0) {
      out.push({ ...base, accuracy: null, loss: null });
      continue;
    }
    const ev = await evaluate({ tf: args.tf, spec: args.spec, weights: args.weights, data: selectRows(args.all, rows) });
    out.push({ ...base, accuracy: ev.accuracy, loss: ev.loss });
  }
  return out;
}

/**
 * A table of per-institution accuracy and loss, then the pooled line.
 * @example formatInstitutions(results, { accuracy: 0.91, loss: 0.3, rows: 120 })
 */
export function formatInstitutions(results: readonly InstitutionResult[], pooled: { accuracy: number; loss: number; rows: number }): string {
  const rows = [
    ['institution', 'is', 'test rows', 'accuracy', 'loss'],
    ...results.map((r) => [r.institution, r.name, String(r.testRows), r.accuracy === null ? '-' : r.accuracy.toFixed(4), r.loss === null ? '-' : r.loss.toFixed(4)]),
    ['pooled', '', String(pooled.rows), pooled.accuracy.toFixed(4), pooled.loss.toFixed(4)],
  ];
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  const line = (r: string[]): string => r.map((c, j) => (j <= 1 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number))).join('  ');
  return ['Per institution, each on its own test rows (as cross-silo benchmarks report):', ...rows.map(line)].join('\n');
}
