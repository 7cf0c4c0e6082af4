/** Small-cell suppression at the site: the one implementation lives in protocol/ (the coordinator applies it to pooled counts under secure aggregation). */
export { protectCells, protectCount, allSuppressed, protectTables } from '../../protocol/index.js';
