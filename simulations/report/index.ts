/** Result reports of a simulation: classification report, per-round CSV, SVG plot, terminal progress. */
export { classificationReport, formatReport } from '../../coordinator/models/classification-report.js';
export type { ClassScores, Report } from '../../coordinator/models/classification-report.js';
export { roundsToCsv, ROUND_COLUMNS } from './rounds-csv.js';
export type { RoundRow } from './rounds-csv.js';
export { plotRoundsSvg, renderSvg, roundsSpec } from './plot.js';
export type { PlotOptions } from './plot.js';
export { createRoundProgress, formatDuration } from './progress.js';
export type { RoundProgress, RoundProgressOptions, RoundUpdate } from './progress.js';
export { finalReport, taskPlots } from './task-report.js';
export type { FinalReport, TestEvaluation } from './task-report.js';
export { calibrationSvg, predictedVsTrueSvg } from './task-plots.js';
