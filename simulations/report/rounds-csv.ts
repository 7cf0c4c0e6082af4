/** Per-round metrics of a simulation, and their CSV form (one header line, one line per round). */

/** What one finished round measured; optional fields are blank in the CSV when absent. */
export interface RoundRow {
  /** 1-based round number. */
  round: number;
  /** Agents whose updates were aggregated this round. */
  participants: number;
  /** Loss of the aggregated model on the held-out test set. */
  loss: number;
  /** Accuracy of the aggregated model on the held-out test set, in [0, 1] (mean per-label for multilabel; NaN, a blank field, for regression). */
  accuracy: number;
  /** Mean local training loss reported by the participants. */
  trainLoss?: number;
  /** Mean local validation accuracy reported by the participants. */
  valAccuracy?: number;
  /** Training samples behind this round's aggregate. */
  samples?: number;
  /** Wall time of the round, in milliseconds. */
  durationMs?: number;
  /** Binary: test ROC AUC; multilabel: macro AUC over labels. */
  auc?: number;
  /** Regression: test R2 (mean over targets). */
  r2?: number;
  /** Sealed envelope bytes the sites sent this round (accepted and refused updates). */
  uploadBytes?: number;
}

/** CSV columns, in order; each is a key of `RoundRow`. */
export const ROUND_COLUMNS = [
  'round',
  'participants',
  'loss',
  'accuracy',
  'trainLoss',
  'valAccuracy',
  'samples',
  'durationMs',
  'auc',
  'r2',
] as const satisfies readonly (keyof RoundRow)[];

/** A number as a CSV field: shortest round-tripping decimal, blank when absent or not finite. */
function field(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '';
  return String(value);
}

/**
 * Writes rows as CSV: a header of `ROUND_COLUMNS`, then one line per row, `\n`-terminated.
 * Absent optional values are empty fields, so every line has the same number of fields.
 * @example
 * roundsToCsv([{ round: 1, participants: 3, loss: 0.5, accuracy: 0.8 }]);
 * // 'round,participants,loss,accuracy,trainLoss,valAccuracy,samples,durationMs,auc,r2\n1,3,0.5,0.8,,,,,,\n'
 */
export function roundsToCsv(rows: readonly RoundRow[]): string {
  const lines = [ROUND_COLUMNS.join(',')];
  for (const row of rows) lines.push(ROUND_COLUMNS.map((key) => field(row[key])).join(','));
  return lines.join('\n') + '\n';
}
