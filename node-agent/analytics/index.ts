/** Federated analytics at the site: the table, the counts, small-cell suppression, the signed answer. */
export { answerStatsQuery, appliedMinCellSize, type StatsSite } from './answer.js';
export { countSensitivity, planNoise, gaussianCountNoise, NO_NOISE, ANALYTICS_DELTA, type CountNoise } from './noise.js';
export { secureCounts } from './secure-answer.js';
export { readTextTable, textTable, whereColumn, columnCells, type Table } from './table.js';
export { protectCells, protectCount } from './disclosure.js';
export { numericAnswer, categoricalAnswer, crosstabAnswer, histogramCell } from './site-counts.js';
export { survivalAnswer, gridCounts, ALL_GROUP } from './site-survival.js';
export { describeColumn, roundOutward } from './describe.js';
export { attachStats } from './attach.js';
