/** Federated analytics at the coordinator: the query runner, the pooling and the survival statistics. */
export { runStats, type StatsDeps } from './run.js';
export { runCheck } from './check.js';
export { RecentStats, type RecentQuery } from './recent.js';
export { statsRunner, statsApi, type StatsHost } from './attach.js';
export { StatsRequestSchema, type StatsRequest } from './request.js';
export { poolNumeric, poolCategorical, poolCrosstab, histogramQuantile } from './pool.js';
export { poolSurvival } from './pool-survival.js';
export { kaplanMeier, logRank } from './kaplan-meier.js';
export { chiSquareUpperTail } from './chi-square.js';
export { niceEdges } from './edges.js';
