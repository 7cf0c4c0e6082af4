/** The verifiable audit trail: chain entries from the table, verification, export. */
export { auditRows, entryOfRow, exportAudit, parseExport, verifyAuditTable } from './chain.js';
