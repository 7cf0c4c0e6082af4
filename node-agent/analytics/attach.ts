/** Takes the coordinator's stats queries on the agent's socket: answered in the acknowledgement, each one in the site's audit log. */
import { canonicalJson, type StatsReply } from '../../protocol/index.js';
import { sha256Hex, utf8Encode } from '../../crypto/index.js';
import type { AgentAuditLog } from '../audit-log.js';
import { ledgerPath } from '../privacy-ledger.js';
import type { AgentSocket } from '../transport/connection.js';
import { answerStatsQuery, type StatsSite } from './answer.js';

const noTable = (): never => {
  throw new Error('this agent was started without a table for analytics (start it with --data csv:FILE)');
};

/**
 * Answers `stats:query` with `answerStatsQuery` (consent, k, suppression, signature) and appends `stats.answered` (the
 * answer's SHA-256 and the k applied) or `stats.refused` to the agent's audit log.
 * @example attachStats(socket, site, audit, (m) => log.info(m))
 */
export function attachStats(
  socket: AgentSocket,
  options: Omit<StatsSite, 'table' | 'ledgerFile'> & { table: StatsSite['table'] | undefined; consentFile?: string | undefined },
  audit: AgentAuditLog,
  log: (msg: string) => void,
): void {
  const { consentFile, ...rest } = options;
  // DP answers are charged to the ledger beside the consent, the one training charges.
  const ledger = consentFile ? { ledgerFile: ledgerPath(consentFile) } : {};
  const site: StatsSite = { maskKeys: new Map(), ...rest, ...ledger, table: options.table ?? noTable };
  socket.on('stats:query', (raw, ack) => {
    let reply: StatsReply;
    try {
      reply = answerStatsQuery(site, raw);
    } catch (err) {
      reply = { ok: false, error: { code: 'INTERNAL', message: (err as Error).message } };
    }
    const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? (raw as { id: string }).id : null;
    if (reply.ok) {
      audit.append('stats.answered', {
        queryId: id,
        minCellSize: reply.body.minCellSize,
        ...(reply.body.dp ? { dp: reply.body.dp } : {}),
        ...(reply.body.masked !== undefined || reply.body.maskKey !== undefined ? { secure: true } : {}),
        digest: sha256Hex(utf8Encode(canonicalJson(reply.body))),
      });
      log(`stats query ${id} answered (k = ${reply.body.minCellSize})`);
    } else {
      audit.append('stats.refused', { queryId: id, ...reply.error });
      log(`stats query ${id} refused: ${reply.error.code} ${reply.error.message}`);
    }
    if (typeof ack === 'function') ack(reply);
  });
}
