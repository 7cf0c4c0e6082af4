/** The agent's own audit log: what it sent and what it refused, hash-chained and signed with the institution's key (JSON Lines). */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GENESIS_HASH, appendEntry, type Identity } from '../crypto/index.js';

export interface AgentAuditLog {
  append(kind: string, data: Record<string, unknown>, subject?: string | null): void;
}

/**
 * Opens (or creates) a log file and continues its chain; `cohort audit verify --file F --key institution.pub.json` checks it.
 * @example const log = openAgentAuditLog('.cohort/agent-audit.jsonl', identity, 'demo'); log.append('update.sent', { round, digest })
 */
export function openAgentAuditLog(path: string, identity: Identity, federation: string): AgentAuditLog {
  mkdirSync(dirname(path), { recursive: true });
  let seq = 0;
  let prevHash = GENESIS_HASH;
  if (existsSync(path)) {
    const lines = readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
    const last = lines.at(-1);
    if (last) {
      const entry = JSON.parse(last) as { seq: number; hash: string };
      seq = entry.seq;
      prevHash = entry.hash;
    }
  }
  return {
    append(kind, data, subject = null) {
      seq += 1;
      const entry = appendEntry(
        prevHash,
        { seq, ts: Date.now(), federation, kind, actor: identity.id, subject, data },
        identity.signSecretKey,
      );
      appendFileSync(path, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
      prevHash = entry.hash;
    },
  };
}
